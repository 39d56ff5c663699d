"""migrator scan and migrator test."""

from __future__ import annotations

import json
import sys

import click

from ..errors import MigratorError
from ..match import load_rules
from ..match.scan import TreeScan, scan_tree
from ..target import type_names
from . import EXIT_FAILED, cli, count, fail, names_option, rules_option


def _site_label(f) -> str:
    o = f.occurrence
    if o.kind == "use":
        return f"{o.layout}.{o.member}" if o.member else o.layout
    return o.kind


def _print_scan(scan: TreeScan) -> None:
    for f in scan.findings:
        o = f.occurrence
        rule = f.rule_id or ("-" if o.is_site else "")
        decision = f" ({f.severity})" if f.severity else ""
        click.echo(f"{o.path}:{o.line}:{o.col}: {_site_label(f)}  {rule}{decision}  {o.text}")
    if scan.findings:
        click.echo("")
    width = max([len(fs.path) for fs in scan.files] + [4])
    click.echo(f"{'file':<{width}}  sites  rewrite  report  undecided  other")
    for fs in scan.files:
        if fs.error:
            continue
        d = {"rewrite": 0, "report": 0, "undecided": 0}
        for f in fs.findings:
            if f.occurrence.is_site:
                d[f.severity] += 1
        other = len(fs.findings) - fs.sites
        click.echo(f"{fs.path:<{width}}  {fs.sites:5}  {d['rewrite']:7}  {d['report']:6}  {d['undecided']:9}  {other:5}")
    for fs in scan.skipped:
        click.echo(f"{fs.path}: skipped: {fs.error}")
    kinds, decided = scan.kind_counts(), scan.decision_counts()
    files = sum(1 for fs in scan.files if fs.sites)
    click.echo(
        f"{count(kinds['use'], 'site')} in {count(files, 'file')}: {decided['rewrite']} rewrite, "
        f"{decided['report']} report, {decided['undecided']} undecided; "
        f"{kinds['guarded']} version-guarded, {count(kinds['declaration'], 'declaration')}, "
        f"{count(kinds['alias'], 'alias')}, {kinds['python']} Python; "
        f"{count(len(scan.skipped), 'file')} skipped"
    )


def _scan_json(scan: TreeScan) -> dict:
    return {
        "root": scan.root,
        "findings": [
            {
                "path": f.occurrence.path, "line": f.occurrence.line, "col": f.occurrence.col,
                "kind": f.occurrence.kind, "layout": f.occurrence.layout,
                "member": f.occurrence.member, "text": f.occurrence.text,
                "rule": f.rule_id, "decision": f.severity, "message": f.message,
            }
            for f in scan.findings
        ],
        "files": [
            {"path": fs.path, "sites": fs.sites, "occurrences": len(fs.findings)}
            for fs in scan.files if not fs.error
        ],
        "skipped": [{"path": fs.path, "reason": fs.error} for fs in scan.skipped],
        "totals": {"kinds": dict(scan.kind_counts()),
                   "decisions": {str(k): v for k, v in scan.decision_counts().items()}},
    }


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@rules_option
@names_option
def scan(path: str, as_json: bool, rules_dir: str, names: str) -> None:
    """List every use of the old layouts in the tree at PATH.

    Each line is FILE:LINE:COL, the use, the rule that decides it (and whether
    it is rewritten or only reported), and the code; a per-file table and a
    total follow.  Identifiers that merely contain the words are not uses.
    Exit 1 if a file could not be read (it is listed with the reason).
    """
    try:
        rules = load_rules(rules_dir)
        result = scan_tree(path, rules, type_names(names))
    except MigratorError as e:
        fail(str(e))
    if as_json:
        click.echo(json.dumps(_scan_json(result), indent=1))
    else:
        _print_scan(result)
    # The scan ran, but a file it could not read may hide uses: scripts must see that.
    sys.exit(EXIT_FAILED if result.skipped else 0)


@cli.command("test")
@rules_option
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test_rules(rules_dir: str, verbose: bool) -> None:
    """Run the cases written in the rule files."""
    from ..ruletest import run_rule_tests

    try:
        results = run_rule_tests(load_rules(rules_dir))
    except MigratorError as e:
        fail(str(e))
    for r in results:
        if verbose or not r.ok:
            click.echo(f"{r.status.upper():8} {r.name}  {r.detail}".rstrip())
    failed = sum(1 for r in results if not r.ok)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_FAILED if failed else 0)


