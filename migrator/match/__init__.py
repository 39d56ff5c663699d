"""Match stage: find the old API's occurrences in a parsed file and decide each use by the rules."""

from .engine import UNDECIDED, Decision, FileMatches, Finding, Match, match_file
from .rules import (DEFAULT_RULES_DIR, Area, Rule, RuleBook, load_rule, load_rule_book, load_rules,
                    migration_rule_book)
from .uses import Occurrence, find_occurrences

__all__ = [
    "UNDECIDED", "Decision", "FileMatches", "Finding", "Match", "match_file",
    "DEFAULT_RULES_DIR", "Area", "Rule", "RuleBook", "load_rule", "load_rule_book", "load_rules",
    "migration_rule_book",
    "Occurrence", "find_occurrences",
]
