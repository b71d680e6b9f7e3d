"""The promspec command line: generate, validate, check, schema.

Exit codes: 0 ok, 1 invalid specs (or stale out/ for `check`), 2 usage error,
3 promspec or promtool failed. Errors are one line each on stderr; no tracebacks for
mistakes in specs (set PROMSPEC_DEBUG=1 to see one for a crash).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from generator import __version__, check, explain, pipeline, runtests, write
from generator.cli_formats import FormatFlags, format_options
from generator.cli_output import Reporter, habits
from generator.errors import EXIT_INVALID, EXIT_USAGE
from generator.validate import schema

SPECS_ARG = click.argument("specs", nargs=-1, type=click.Path(path_type=Path), metavar="[SPECS]...")
OUT_OPT = click.option(
    "--out",
    "out",
    default=Path("out"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory; replaced as a whole, atomically.",
)
DEFAULTS_OPT = click.option(
    "--defaults",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Org-wide defaults file (default: the nearest _defaults.yaml beside the specs).",
)
TEMPLATES_OPT = click.option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of Jinja templates that override the built-in ones by file name.",
)


def _specs(specs: tuple[Path, ...]) -> list[Path]:
    return list(specs) or [Path("specs")]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promspec")
def main() -> None:
    """Compile service specs into Prometheus rules, checked by promtool.

    \b
    Typical use:
      promspec generate            # specs/ -> out/
      promspec check               # exit 1 if out/ is stale (pre-commit, CI)
    """


@main.command()
@SPECS_ARG
@OUT_OPT
@DEFAULTS_OPT
@TEMPLATES_OPT
@click.option("--no-promtool", is_flag=True, help="Skip `promtool check rules` on the output.")
@format_options
@habits
def generate(
    specs: tuple[Path, ...],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    no_promtool: bool,
    fmt: FormatFlags,
    reporter: Reporter,
) -> None:
    """Compile SPECS (files or directories; default: specs/) into --out.

    Writes out/prometheus/<service>.rules.yml for every service (and the files of every
    other --format). Nothing in --out changes unless every spec compiles and promtool
    accepts every rule.
    """
    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        use_promtool=not no_promtool,
        out=out,
        options=fmt.options(_specs(specs)),
        progress=reporter.progress,
    )
    if not no_promtool and not result.promtool_checked:
        reporter.warning(f"{check.PROMTOOL_HINT}; rules not checked")
    for warning in result.warnings:
        reporter.warning(warning)
    changed = write.write_tree(out, result.files)
    state = "written" if changed else "unchanged"
    reporter.summary(
        f"promspec: {len(result.services)} services, {len(result.files)} files {state} in {out}",
        services=len(result.services),
        files=sorted(result.files),
        changed=changed,
        out=str(out),
        promtool_checked=result.promtool_checked,
    )


@main.command()
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@format_options
@habits
def validate(
    specs: tuple[Path, ...],
    defaults: Path | None,
    templates: Path | None,
    fmt: FormatFlags,
    reporter: Reporter,
) -> None:
    """Check SPECS without writing anything: schema, PromQL, SLO math, promtool.

    promtool runs on the rendered rules when it is installed; otherwise a warning says so.
    """
    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        options=fmt.options(_specs(specs)),
        progress=reporter.progress,
    )
    note = "promtool check rules passed" if result.promtool_checked else "promtool not found"
    if not result.promtool_checked:
        reporter.warning(check.PROMTOOL_HINT)
    for warning in result.warnings:
        reporter.warning(warning)
    reporter.summary(
        f"promspec: {len(result.services)} services valid ({note})",
        services=len(result.services),
        promtool_checked=result.promtool_checked,
    )


@main.command(name="check")
@SPECS_ARG
@OUT_OPT
@DEFAULTS_OPT
@TEMPLATES_OPT
@format_options
@habits
def check_cmd(
    specs: tuple[Path, ...],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    fmt: FormatFlags,
    reporter: Reporter,
) -> None:
    """Exit 1 when --out is stale against SPECS (for pre-commit and CI).

    Lists every file that would be added, changed or removed by `promspec generate`
    (with the same --format options).
    """
    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        use_promtool=False,
        out=out,
        options=fmt.options(_specs(specs)),
        progress=reporter.progress,
    )
    current = write.read_tree(out)
    stale = sorted(
        [("changed", p) for p in result.files if p in current and current[p] != result.files[p]]
        + [("missing", p) for p in result.files if p not in current]
        + [("extra", p) for p in current if p not in result.files],
        key=lambda item: (item[0], item[1]),
    )
    reporter.data.update(
        stale=[{"state": state, "path": str(out / p)} for state, p in stale],
        files=len(result.files),
        out=str(out),
    )
    if stale:
        for state, p in stale:
            reporter.file_problem(str(out / p), f"{state + ':':8} {out / p}")
        reporter.finish(
            EXIT_INVALID, f"promspec: {out} is stale; run `make generate` (or `promspec generate`)"
        )
    reporter.summary(f"promspec: {out} is up to date ({len(result.files)} files)")


@main.command(name="test")
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@click.option("-v", "--verbose", is_flag=True, help="Print promtool's whole report on failure.")
@habits
def test_cmd(
    specs: tuple[Path, ...],
    defaults: Path | None,
    templates: Path | None,
    verbose: bool,
    reporter: Reporter,
) -> None:
    """Prove the alerts of SPECS with `promtool test rules`; one line per service.

    Runs the generated tests (out/tests/) on freshly compiled rules, and the hand-written
    tests kept next to a spec as <service>.test.yml. Exit 1 when any test fails.
    """
    result = pipeline.compile_specs(_specs(specs), defaults_file=defaults, templates=templates)
    outcomes = runtests.run(result)
    for o in outcomes:
        took = f"{o.files} files, {o.seconds:.0f}s"
        if o.ok:
            reporter.summary(f"ok    {o.service} ({took})")
            continue
        first = o.failures[0].splitlines()
        where = next(
            (ln.strip() for ln in first if ln.strip().startswith(("name:", "alertname:", "expr:"))),
            first[-1],
        )
        click.echo(f"FAIL  {o.service} ({took}): {where}")
        if verbose:
            for report in o.failures:
                click.echo(report, err=True)
    failed = [o.service for o in outcomes if not o.ok]
    reporter.data.update(
        services=[{"service": o.service, "ok": o.ok, "files": o.files} for o in outcomes]
    )
    if failed:
        reporter.finish(
            EXIT_INVALID,
            f"promspec: alerts not proven for {', '.join(failed)} (run with -v for details)",
        )
    reporter.summary(f"promspec: {len(outcomes)} services proven by promtool test rules")


@main.command(name="explain")
@click.argument("service", required=False)
@click.option(
    "--specs",
    "specs_dir",
    default=Path("specs"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Spec files or directory.",
)
@DEFAULTS_OPT
@habits
def explain_cmd(
    service: str | None, specs_dir: Path, defaults: Path | None, reporter: Reporter
) -> None:
    """Print the alert catalogue (Markdown) of every service, or of SERVICE only.

    What fires each alert, the error budget it means, and how long it takes to fire at
    100% errors and at its threshold. `promspec explain > docs/alerts.md` keeps the docs.
    """
    result = pipeline.compile_specs([specs_dir], defaults_file=defaults, use_promtool=False)
    services = [s for s in result.services if service in (None, s.name)]
    if not services:
        known = ", ".join(s.name for s in result.services)
        reporter.finish(
            EXIT_USAGE, f"promspec: no service '{service}' in {specs_dir} (services: {known})"
        )
    click.echo(explain.markdown(services, result.plans), nl=False)


@main.command(name="schema")
def schema_cmd() -> None:
    """Print the JSON Schema of spec files (for editors and check-jsonschema)."""
    click.echo(json.dumps(schema(), indent=2, sort_keys=False))


# Commands kept in their own modules (registered on import).
from generator import cli_import  # noqa: E402, F401
