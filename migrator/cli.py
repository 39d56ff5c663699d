"""The command line: the only layer that prints or exits.

Exit codes: 0 success; 1 the job ran and found a failure (a rule test, a
check); 2 bad input or a refusal, with a one-line message.
"""

from __future__ import annotations

import json
import sys

import click

from .errors import MigratorError
from .match import DEFAULT_RULES_DIR, load_rules
from .match.scan import TreeScan, scan_tree
from .target import PREFIXES, type_names

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _fail(message: str) -> None:
    click.echo(f"migrator: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


rules_option = click.option(
    "--rules", "rules_dir", default=str(DEFAULT_RULES_DIR), show_default="the shipped rules/",
    type=click.Path(file_okay=False), help="Folder of rule files (*.toml).",
)
names_option = click.option(
    "--names", type=click.Choice(sorted(PREFIXES)), default="short", show_default=True,
    help="Spelling of the memory types: short is MOD_TEXT, long is MOD_MEM_TYPE_TEXT.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="migrator")
def cli() -> None:
    """Move Linux code from struct module_layout to struct module_memory.

    The old core_layout, init_layout and data_layout of struct module became
    mem[MOD_*] in v6.4.  migrator finds every use in a kernel tree, maps each
    by its meaning, and says so where no faithful mapping exists.
    """


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
        f"{_count(kinds['use'], 'site')} in {_count(files, 'file')}: {decided['rewrite']} rewrite, "
        f"{decided['report']} report, {decided['undecided']} undecided; "
        f"{kinds['guarded']} version-guarded, {_count(kinds['declaration'], 'declaration')}, "
        f"{_count(kinds['alias'], 'alias')}, {kinds['python']} Python; "
        f"{_count(len(scan.skipped), 'file')} skipped"
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
    """
    try:
        rules = load_rules(rules_dir)
        result = scan_tree(path, rules, type_names(names))
    except MigratorError as e:
        _fail(str(e))
    if as_json:
        click.echo(json.dumps(_scan_json(result), indent=1))
    else:
        _print_scan(result)


@cli.command("test")
@rules_option
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test_rules(rules_dir: str, verbose: bool) -> None:
    """Run the cases written in the rule files."""
    from .ruletest import run_rule_tests

    try:
        results = run_rule_tests(load_rules(rules_dir))
    except MigratorError as e:
        _fail(str(e))
    for r in results:
        if verbose or not r.ok:
            click.echo(f"{r.status.upper():8} {r.name}  {r.detail}".rstrip())
    failed = sum(1 for r in results if not r.ok)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_FAILED if failed else 0)


def _print_rewrite_summary(plan, wrote: bool, err: bool) -> None:
    from collections import Counter, defaultdict

    echo = lambda text="": click.echo(text, err=err)  # noqa: E731
    files = len(plan.changes)
    verb = "rewritten" if wrote else "to rewrite"
    echo(f"{plan.sites_rewritten} sites {verb} in {_count(files, 'file')}")
    for r in plan.recipes:
        detail = f": {r.reason}" if r.reason else ""
        echo(f"  recipe {r.recipe.id} on {r.recipe.file}: {r.status}{detail}")
    left = plan.left()
    by_reason: dict[str, Counter] = defaultdict(Counter)
    for f in left:
        by_reason[plan.left_reason(f)][f.occurrence.path] += 1
    echo(f"{_count(len(left), 'site')} left as they are")
    for reason, per_file in by_reason.items():
        scoped = any(f.occurrence.path.startswith(s.path) for s in plan.scope for f in left
                     if plan.left_reason(f) == reason)
        if scoped:
            echo(f"  {sum(per_file.values())} in {_count(len(per_file), 'file')}: {reason}")
    for f in left:
        o = f.occurrence
        reason = plan.left_reason(f)
        if not any(o.path.startswith(s.path) for s in plan.scope):
            echo(f"  {o.path}:{o.line}:{o.col}: {f.rule_id or f.severity}: {reason}")
    echo(f"{_count(len(plan.skipped), 'file')} skipped")
    for sk in plan.skipped:
        echo(f"  {sk.path}: {sk.reason}")


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@click.option("--force", is_flag=True, help="Rewrite files even if they have uncommitted changes.")
@rules_option
@names_option
def rewrite(path: str, dry_run: bool, force: bool, rules_dir: str, names: str) -> None:
    """Rewrite the uses of the old layouts in the tree at PATH.

    Every use whose meaning a rule decides becomes the module_memory API, and
    include/linux/module.h gets the new definitions.  The rest is left as it
    is and listed with the reason.  Files are replaced atomically; files with
    uncommitted changes make it refuse unless --force.  A second run changes
    nothing.
    """
    from .rewrite.plan import load_scope, plan_rewrite
    from .rewrite.recipes import load_recipes
    from .rewrite.write import unified_diff, write_changes
    from .series.repo import dirty_paths

    try:
        plan = plan_rewrite(path, load_rules(rules_dir), load_recipes(), names, scope=load_scope())
        if dry_run:
            sys.stdout.buffer.write(unified_diff(plan.changes))
            sys.stdout.flush()
            _print_rewrite_summary(plan, wrote=False, err=True)
            return
        dirty = dirty_paths(path, [c.path for c in plan.changes])
        if dirty and not force:
            _fail(f"{dirty[0]}: uncommitted changes ({len(dirty)} files); commit them or use --force")
        write_changes(path, plan.changes)
    except MigratorError as e:
        _fail(str(e))
    _print_rewrite_summary(plan, wrote=True, err=False)


def main() -> None:
    cli(prog_name="migrator")
