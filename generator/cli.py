"""The promspec command line: generate, validate, check, schema.

Exit codes: 0 ok, 1 invalid specs (or stale out/ for `check`), 2 usage error,
3 promspec or promtool failed. Errors are one line each on stderr; no tracebacks for
mistakes in specs (set PROMSPEC_DEBUG=1 to see one for a crash).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from generator import __version__, check, explain, pipeline, runtests, write
from generator.errors import EXIT_INVALID, EXIT_TOOL, EXIT_USAGE, SpecError, ToolError
from generator.validate import schema

F = TypeVar("F", bound=Callable[..., Any])

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


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def reports_errors(func: F) -> F:
    """Turn user and tool errors into one-line messages and exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            noun = "problem" if len(exc.problems) == 1 else "problems"
            _fail(f"promspec: {len(exc.problems)} {noun}; nothing was written", EXIT_INVALID)
        except ToolError as exc:
            _fail(f"promspec: {exc}", EXIT_TOOL)
        except OSError as exc:
            _fail(f"promspec: {exc.filename or ''}: {exc.strerror or exc}", EXIT_TOOL)
        except click.exceptions.Exit:
            raise
        except Exception as exc:
            if os.environ.get("PROMSPEC_DEBUG"):
                traceback.print_exc()
            _fail(
                f"promspec: internal error ({type(exc).__name__}: {exc}); please report it "
                "with the spec that caused it (PROMSPEC_DEBUG=1 shows the traceback)",
                EXIT_TOOL,
            )

    return wrapper  # type: ignore[return-value]


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
@reports_errors
def generate(
    specs: tuple[Path, ...],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    no_promtool: bool,
) -> None:
    """Compile SPECS (files or directories; default: specs/) into --out.

    Writes out/prometheus/<service>.rules.yml for every service. Nothing in --out changes
    unless every spec compiles and promtool accepts every file.
    """
    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        use_promtool=not no_promtool,
        out=out,
    )
    if not no_promtool and not result.promtool_checked:
        click.echo(f"warning: {check.PROMTOOL_HINT}; rules not checked", err=True)
    changed = write.write_tree(out, result.files)
    state = "written" if changed else "unchanged"
    click.echo(
        f"promspec: {len(result.services)} services, {len(result.files)} files {state} in {out}"
    )


@main.command()
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@reports_errors
def validate(specs: tuple[Path, ...], defaults: Path | None, templates: Path | None) -> None:
    """Check SPECS without writing anything: schema, PromQL, SLO math, promtool.

    promtool runs on the rendered rules when it is installed; otherwise a warning says so.
    """
    result = pipeline.compile_specs(_specs(specs), defaults_file=defaults, templates=templates)
    note = "promtool check rules passed" if result.promtool_checked else "promtool not found"
    if not result.promtool_checked:
        click.echo(f"warning: {check.PROMTOOL_HINT}", err=True)
    click.echo(f"promspec: {len(result.services)} services valid ({note})")


@main.command(name="check")
@SPECS_ARG
@OUT_OPT
@DEFAULTS_OPT
@TEMPLATES_OPT
@reports_errors
def check_cmd(
    specs: tuple[Path, ...], out: Path, defaults: Path | None, templates: Path | None
) -> None:
    """Exit 1 when --out is stale against SPECS (for pre-commit and CI).

    Lists every file that would be added, changed or removed by `promspec generate`.
    """
    result = pipeline.compile_specs(
        _specs(specs), defaults_file=defaults, templates=templates, use_promtool=False, out=out
    )
    current = write.read_tree(out)
    stale = sorted(
        [
            f"changed: {out / p}"
            for p in result.files
            if p in current and current[p] != result.files[p]
        ]
        + [f"missing: {out / p}" for p in result.files if p not in current]
        + [f"extra:   {out / p}" for p in current if p not in result.files]
    )
    if stale:
        for line in stale:
            click.echo(line, err=True)
        _fail(
            f"promspec: {out} is stale; run `make generate` (or `promspec generate`)", EXIT_INVALID
        )
    click.echo(f"promspec: {out} is up to date ({len(result.files)} files)")


@main.command(name="test")
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@click.option("-v", "--verbose", is_flag=True, help="Print promtool's whole report on failure.")
@reports_errors
def test_cmd(
    specs: tuple[Path, ...], defaults: Path | None, templates: Path | None, verbose: bool
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
            click.echo(f"ok    {o.service} ({took})")
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
    if failed:
        _fail(
            f"promspec: alerts not proven for {', '.join(failed)} (run with -v for details)",
            EXIT_INVALID,
        )
    click.echo(f"promspec: {len(outcomes)} services proven by promtool test rules")


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
@reports_errors
def explain_cmd(service: str | None, specs_dir: Path, defaults: Path | None) -> None:
    """Print the alert catalogue (Markdown) of every service, or of SERVICE only.

    What fires each alert, the error budget it means, and how long it takes to fire at
    100% errors and at its threshold. `promspec explain > docs/alerts.md` keeps the docs.
    """
    result = pipeline.compile_specs([specs_dir], defaults_file=defaults, use_promtool=False)
    services = [s for s in result.services if service in (None, s.name)]
    if not services:
        known = ", ".join(s.name for s in result.services)
        _fail(f"promspec: no service '{service}' in {specs_dir} (services: {known})", EXIT_USAGE)
    click.echo(explain.markdown(services, result.plans), nl=False)


@main.command(name="schema")
def schema_cmd() -> None:
    """Print the JSON Schema of spec files (for editors and check-jsonschema)."""
    click.echo(json.dumps(schema(), indent=2, sort_keys=False))
