"""Parse stage: find the files that can hold a use, read them as bytes, parse C."""

from .source import SourceFile, parse_c, read_source, is_c_path, is_python_path
from .tree import CandidateSearch, candidate_paths

__all__ = [
    "SourceFile", "parse_c", "read_source", "is_c_path", "is_python_path",
    "CandidateSearch", "candidate_paths",
]
