"""migrator scan."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

import click

from ..errors import MigratorError
from ..match.scan import TreeScan, scan_tree
from . import (EXIT_FAILED, cli, count, fail, migration_option, names_option,
               open_migration, profile_options, resolve_profile, rules_option)


def _site_label(f) -> str:
    o = f.occurrence
    if o.kind in ("use", "python-reader") and o.member:
        return f"{o.name}.{o.member}"
    if o.kind == "use":
        return o.name
    return o.kind


def _counts(findings) -> tuple[Counter, Counter]:
    """Occurrences by kind, and sites by decision."""
    kinds = Counter(f.occurrence.kind for f in findings)
    decided = Counter(f.severity for f in findings if f.occurrence.is_site)
    return kinds, decided


def _print_scan(scan: TreeScan, findings) -> None:
    for f in findings:
        o = f.occurrence
        rule = f.rule_id or ("-" if o.is_site else "")
        decision = f" ({f.severity})" if f.severity else ""
        click.echo(f"{o.path}:{o.line}:{o.col}: {_site_label(f)}  {rule}{decision}  {o.text}")
    if findings:
        click.echo("")
    by_path = defaultdict(list)
    for f in findings:
        by_path[f.occurrence.path].append(f)
    width = max([len(p) for p in by_path] + [4])
    click.echo(f"{'file':<{width}}  sites  rewrite  report  undecided  other")
    for path, fs in by_path.items():
        kinds, decided = _counts(fs)
        sites = sum(1 for f in fs if f.occurrence.is_site)
        click.echo(f"{path:<{width}}  {sites:5}  {decided['rewrite']:7}  {decided['report']:6}  "
                   f"{decided['undecided']:9}  {len(fs) - sites:5}")
    for fs in scan.skipped:
        click.echo(f"{fs.path}: skipped: {fs.error}")
    kinds, decided = _counts(findings)
    files = sum(1 for fs in by_path.values() if any(f.occurrence.is_site for f in fs))
    if scan.profile.out_of_tree:
        _print_guards(scan.guards())
        listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        click.echo(f"{count(sum(decided.values()), 'site')} in {count(files, 'file')}: "
                   f"{decided['rewrite']} rewrite, {decided['report']} report, "
                   f"{decided['undecided']} undecided; by kind: {listed or 'none'}; "
                   f"{count(len(scan.skipped), 'file')} skipped")
        return
    unread = len(scan.unread)
    unread_note = f" ({unread} of them where the parser could not read)" if unread else ""
    click.echo(
        f"{count(sum(decided.values()), 'site')} in {count(files, 'file')}: {decided['rewrite']} rewrite, "
        f"{decided['report']} report, {decided['undecided']} undecided{unread_note}; "
        f"{kinds['guarded']} version-guarded, {count(kinds['declaration'], 'declaration')}, "
        f"{count(kinds['alias'], 'alias')}, {kinds['python']} Python; "
        f"{count(len(scan.skipped), 'file')} skipped"
    )


def _print_guards(guards) -> None:
    """The existing conditionals that rules decided, with the reason (out of the tree)."""
    if not guards:
        return
    click.echo(f"{count(len(guards), 'existing guard')} decided by a rule:")
    for path, m in guards:
        click.echo(f"  {path}:{m.line}:{m.col}: {m.rule_id} ({m.severity}): {m.message}")


def _scan_json(scan: TreeScan, findings) -> dict:
    kinds, decided = _counts(findings)
    return {
        "root": scan.root,
        "findings": [
            {
                "path": f.occurrence.path, "line": f.occurrence.line, "col": f.occurrence.col,
                "kind": f.occurrence.kind, "name": f.occurrence.name,
                "member": f.occurrence.member, "text": f.occurrence.text,
                "rule": f.rule_id, "decision": f.severity, "message": f.message,
            }
            for f in findings
        ],
        "files": [
            {"path": fs.path, "sites": fs.sites, "occurrences": len(fs.findings)}
            for fs in scan.files if not fs.error
        ],
        "skipped": [{"path": fs.path, "reason": fs.error} for fs in scan.skipped],
        "guards": [{"path": path, "line": m.line, "col": m.col, "rule": m.rule_id,
                    "decision": m.severity, "message": m.message} for path, m in scan.guards()],
        "totals": {"kinds": dict(kinds), "decisions": {str(k): v for k, v in decided.items()}},
    }


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@migration_option
@rules_option
@names_option
@profile_options
def scan(path: str, as_json: bool, migration_name: str, rules_dir: str | None, names: str,
         mode: str | None, guard: str) -> None:
    """List every use of the old layouts in the tree at PATH.

    Each line is FILE:LINE:COL, the use, the rule that decides it (and whether
    it is rewritten or only reported), and the code; a per-file table and a
    total follow.  Identifiers that merely contain the words are not uses.
    The first line names the mode (see --mode): out of the kernel tree the
    preprocessor's conditionals are evaluated before and after the change, #define values,
    tapsets' embedded C, member names in strings and Python readers are listed
    too.  Exit 1 if a file could not be read (it is listed with the reason)
    or, out of the tree, while a use is undecided.
    """
    from ..parse import CandidateSearch
    from ..rewrite.plan import load_pack, target_names

    migration = open_migration(migration_name)
    vocabulary = migration.vocabulary
    try:
        profile, mode_line = resolve_profile(path, mode, guard, migration)
        # The workers search the tree while this process loads the rules.
        with CandidateSearch(path, vocabulary.old.prefilter, vocabulary.old.needle) as candidates:
            # Matched, not planned: the region rules decide the sites inside their regions.
            book, regions = load_pack(migration, rules_dir, profile)
            result = scan_tree(path, book, target_names(path, names, vocabulary.new), vocabulary=vocabulary,
                               profile=profile, regions=regions, candidates=candidates)
        findings = result.findings
    except MigratorError as e:
        fail(str(e))
    if as_json:
        document = _scan_json(result, findings)
        document["mode"] = profile.mode.value
        click.echo(json.dumps(document, indent=1))
    else:
        if mode_line:
            click.echo(mode_line)
        _print_scan(result, findings)
    undecided = profile.out_of_tree and any(f.severity == "undecided" for f in findings if f.occurrence.is_site)
    # The scan ran, but what it could not read may hide uses: scripts must see that.
    sys.exit(EXIT_FAILED if result.skipped or result.unread or undecided else 0)
