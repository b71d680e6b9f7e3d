"""The promspec command line: generate, validate, check, schema.

Exit codes: 0 ok, 1 invalid specs (or stale out/ for `check`), 2 usage error,
3 promspec or promtool failed. Errors are one line each on stderr; no tracebacks for
mistakes in specs (set PROMSPEC_DEBUG=1 to see one for a crash).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from generator import __version__
from generator.cli.formats import FormatFlags, format_options
from generator.cli.output import Reporter, habits
from generator.errors import EXIT_INVALID, EXIT_USAGE, SpecError
from generator.outputs import cache
from generator.spec import inputs

if TYPE_CHECKING:  # imported on a miss only: a cache hit never loads the compiler
    from generator.outputs import spec_cache

# The compiler (pipeline, and Jinja, jsonschema, YAML and the Grafana SDK behind it) is
# imported inside the commands that compile: `check` with a cache hit never needs it, and
# those imports were most of its time.

F = TypeVar("F", bound=Callable[..., Any])

SPECS_ARG = click.argument("specs", nargs=-1, type=click.Path(path_type=Path), metavar="[SPECS]...")
OUT_OPT_DEFAULT = "out"
OUT_OPT = click.option(
    "--out",
    "out",
    default=Path(OUT_OPT_DEFAULT),
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


def cache_options(func: F) -> F:
    """--cache-dir and --no-cache; the command gets `cache_dir` (None: no cache)."""

    @click.option(
        "--cache-dir",
        default=Path(cache.DEFAULT_DIR),
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        envvar=cache.DIR_ENV,
        help="Where check and generate remember what out/ must hold, to answer without "
        f"compiling when nothing changed. Env: {cache.DIR_ENV}.",
    )
    @click.option(
        "--no-cache",
        is_flag=True,
        envvar=cache.DISABLE_ENV,
        help=f"Always compile; neither read nor write the cache. Env: {cache.DISABLE_ENV}=1.",
    )
    @wraps(func)
    def wrapper(*args: Any, cache_dir: Path, no_cache: bool, **kwargs: Any) -> Any:
        return func(*args, cache_dir=None if no_cache else cache_dir, **kwargs)

    return wrapper  # type: ignore[return-value]


def _discovered(specs: list[Path], out: Path) -> list[tuple[Path, Path]] | None:
    """The specs' discovery, made once for the run key (before and after compiling) and
    the compile; None when it fails (each then discovers, and the compile reports why)."""
    try:
        return inputs.discover(specs, out)
    except (OSError, SpecError):
        return None


def _run_cache(
    cache_dir: Path | None,
    specs: list[Path],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    fmt: FormatFlags,
    discovered: list[tuple[Path, Path]] | None = None,
) -> cache.RunCache:
    if cache_dir is not None and cache.overlaps(cache_dir, out):
        cache_dir = None  # inside out/ it would be an extra file there (and swapped away)
    return cache.RunCache(
        cache_dir,
        lambda: cache.run_key(
            specs=specs,
            out=out,
            defaults=defaults,
            templates=templates,
            alertmanager=fmt.alertmanager_file(specs),
            flags=fmt.cache_key(),
            discovered=discovered,
        ),
    )


def _spec_cache(
    cache_dir: Path | None,
    specs: list[Path],
    out: Path,
    templates: Path | None,
    fmt: FormatFlags,
    *,
    take_from: Path | None,
    promtool: str | None,
) -> spec_cache.SpecCache | None:
    """The per-spec-file cache (generator/outputs/spec_cache.py), or None when it cannot be used.

    take_from: the out/ whose files a hit is read from (generate); None to need only
    their digests (check)."""
    if cache_dir is None or cache.overlaps(cache_dir, out):
        return None
    from generator.outputs import spec_cache

    try:
        environment = cache.environment_key(
            out=out,
            templates=templates,
            alertmanager=fmt.alertmanager_file(specs),
            flags=fmt.cache_key(),
        )
    except (OSError, SpecError, ValueError):
        return None  # the compile reports what cannot be read
    return spec_cache.SpecCache(cache_dir, environment, out=take_from, promtool=promtool)


# Subcommands kept in their own modules (each registers itself on `main` when imported).
LAZY_COMMANDS = {"import": "generator.cli.imports"}


class _Commands(click.Group):
    """Imports the modules of LAZY_COMMANDS when their command is named (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            importlib.import_module(LAZY_COMMANDS[cmd_name])
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--no-promtool",
    is_flag=True,
    help="Skip `promtool check rules` (and `amtool check-config`) on the output.",
)
@format_options
@cache_options
@habits
def generate(
    specs: tuple[Path, ...],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    no_promtool: bool,
    fmt: FormatFlags,
    cache_dir: Path | None,
    reporter: Reporter,
) -> None:
    """Compile SPECS (files or directories; default: specs/) into --out.

    Writes out/prometheus/<service>.rules.yml for every service (and the files of every
    other --format). Nothing in --out changes unless every spec compiles and promtool
    accepts every rule.
    """
    from generator.outputs import check, write

    discovered = _discovered(_specs(specs), out)
    run_cache = _run_cache(cache_dir, _specs(specs), out, defaults, templates, fmt, discovered)
    promtool = None if no_promtool else cache.promtool_identity()
    entry = run_cache.entry()
    # Nothing to do when a successful run with the same inputs produced exactly what out/
    # holds, and (unless --no-promtool) the promtool on PATH accepted those rules.
    # (out/ must exist: the lock file lives beside it.)
    if entry is not None and (promtool is None or entry.promtool == promtool) and out.is_dir():
        with write.locked(out):
            unchanged = cache.hash_tree(out, run_cache.folder) == entry.files
        if unchanged:
            if not no_promtool and promtool is None:
                reporter.warning(f"{check.PROMTOOL_HINT}; rules not checked")
            for warning in entry.warnings:
                reporter.warning(warning)
            reporter.summary(
                f"promspec: {entry.services} services, {len(entry.files)} files unchanged in {out}",
                services=entry.services,
                files=sorted(entry.files),
                changed=False,
                out=str(out),
                promtool_checked=promtool is not None,
            )
            return
    from generator import pipeline

    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        use_promtool=not no_promtool,
        out=out,
        options=fmt.options(_specs(specs)),
        progress=reporter.progress,
        reuse=_spec_cache(
            cache_dir, _specs(specs), out, templates, fmt, take_from=out, promtool=promtool
        ),
        discovered=discovered,
    )
    if not no_promtool and not result.promtool_checked:
        reporter.warning(f"{check.PROMTOOL_HINT}; rules not checked")
    for warning in result.warnings:
        reporter.warning(warning)
    changed = write.write_tree(out, result.files, result.kept)
    run_cache.store(
        cache.Entry(
            result.digests(),
            len(result.names),
            result.warnings,
            promtool if result.promtool_checked else None,
        )
    )
    state = "written" if changed else "unchanged"
    reporter.summary(
        f"promspec: {len(result.names)} services, {len(result.paths())} files {state} in {out}",
        services=len(result.names),
        files=result.paths(),
        changed=changed,
        out=str(out),
        promtool_checked=result.promtool_checked,
    )


@main.command()
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@format_options
@cache_options
@habits
def validate(
    specs: tuple[Path, ...],
    defaults: Path | None,
    templates: Path | None,
    fmt: FormatFlags,
    cache_dir: Path | None,
    reporter: Reporter,
) -> None:
    """Check SPECS without writing anything: schema, PromQL, SLO math, promtool.

    promtool runs on the rendered rules when it is installed; otherwise a warning says so.
    When a `generate` into the default out/ with the same inputs passed every check,
    promtool on PATH included, the answer comes from the cache (--cache-dir).
    """
    # An entry exists only for a run that compiled and that this promtool accepted; its
    # key covers every input, so it answers exactly what compiling again would.
    promtool = cache.promtool_identity()
    default_out = Path(OUT_OPT_DEFAULT)
    entry = _run_cache(cache_dir, _specs(specs), default_out, defaults, templates, fmt).entry()
    if entry is not None and promtool is not None and entry.promtool == promtool:
        for warning in entry.warnings:
            reporter.warning(warning)
        reporter.summary(
            f"promspec: {entry.services} services valid (promtool check rules passed)",
            services=entry.services,
            promtool_checked=True,
        )
        return
    from generator import pipeline
    from generator.outputs import check

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
        f"promspec: {len(result.names)} services valid ({note})",
        services=len(result.names),
        promtool_checked=result.promtool_checked,
    )


@main.command(name="check")
@SPECS_ARG
@OUT_OPT
@DEFAULTS_OPT
@TEMPLATES_OPT
@format_options
@cache_options
@habits
def check_cmd(
    specs: tuple[Path, ...],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    fmt: FormatFlags,
    cache_dir: Path | None,
    reporter: Reporter,
) -> None:
    """Exit 1 when --out is stale against SPECS (for pre-commit and CI).

    Lists every file that would be added, changed or removed by `promspec generate`
    (with the same --format options). When the specs, flags and promspec itself are
    those of an earlier successful run, the answer comes from the cache (--cache-dir)
    without compiling: the same messages and exit code.
    """
    discovered = _discovered(_specs(specs), out)
    run_cache = _run_cache(cache_dir, _specs(specs), out, defaults, templates, fmt, discovered)
    # A hit cannot hide an invalid spec: entries are stored only after a successful
    # compile, and the key covers the bytes of every spec and defaults file, so a spec
    # that does not compile has no entry and is compiled (and reported) below.
    entry = run_cache.entry()
    if entry is not None:
        expected = entry.files
    else:
        from generator import pipeline

        result = pipeline.compile_specs(
            _specs(specs),
            defaults_file=defaults,
            templates=templates,
            use_promtool=False,
            out=out,
            options=fmt.options(_specs(specs)),
            progress=reporter.progress,
            reuse=_spec_cache(
                cache_dir, _specs(specs), out, templates, fmt, take_from=None, promtool=None
            ),
            discovered=discovered,
        )
        expected = result.digests()
        run_cache.store(cache.Entry(expected, len(result.names), result.warnings))
    current = cache.hash_tree(out, run_cache.folder)
    stale = sorted(
        [("changed", p) for p in expected if p in current and current[p] != expected[p]]
        + [("missing", p) for p in expected if p not in current]
        + [("extra", p) for p in current if p not in expected],
        key=lambda item: (item[0], item[1]),
    )
    reporter.data.update(
        stale=[{"state": state, "path": str(out / p)} for state, p in stale],
        files=len(expected),
        out=str(out),
    )
    if stale:
        for state, p in stale:
            reporter.file_problem(str(out / p), f"{state + ':':8} {out / p}")
        reporter.finish(
            EXIT_INVALID, f"promspec: {out} is stale; run `make generate` (or `promspec generate`)"
        )
    reporter.summary(f"promspec: {out} is up to date ({len(expected)} files)")


@main.command(name="test")
@SPECS_ARG
@DEFAULTS_OPT
@TEMPLATES_OPT
@click.option("-v", "--verbose", is_flag=True, help="Print promtool's whole report on failure.")
@click.option(
    "--write-proofs",
    "proofs_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the generated tests to DIR/tests/ with the rules they prove in "
    "DIR/prometheus/ (DIR replaced as a whole, before promtool runs), e.g. for CI to "
    "publish.",
)
@click.option(
    "--shard",
    metavar="K/N",
    callback=lambda ctx, param, value: _shard(value),
    help="Prove only shard K of N (1 <= K <= N): every N-th service in name order, from "
    "the K-th. N CI jobs with K = 1..N prove every service once.",
)
@habits
def test_cmd(
    specs: tuple[Path, ...],
    defaults: Path | None,
    templates: Path | None,
    verbose: bool,
    proofs_dir: Path | None,
    shard: tuple[int, int] | None,
    reporter: Reporter,
) -> None:
    """Prove the alerts of SPECS with `promtool test rules`; one line per service.

    Builds the tests that prove every alert from freshly compiled rules and runs them,
    with the hand-written tests kept next to a spec as <service>.test.yml. Exit 1 when
    any test fails. The generated tests are written only with --write-proofs.
    """
    from generator import pipeline
    from generator.outputs import write
    from generator.proofs import runtests

    result = pipeline.compile_specs(
        _specs(specs),
        defaults_file=defaults,
        templates=templates,
        proofs=True,
        proven=None if shard is None else lambda names: runtests.shard(names, *shard),
    )
    if proofs_dir is not None:
        # Before promtool: the proofs of a failing run are the ones worth reading.
        files = runtests.proof_files(result)
        write.write_tree(proofs_dir, files, flag="--write-proofs")
        reporter.summary(
            f"promspec: {len(files)} proof files written to {proofs_dir}",
            proofs=str(proofs_dir),
            proof_files=list(files),
        )
    outcomes = runtests.run(result)
    for o in outcomes:
        took = f"{o.files} files, {o.seconds:.0f}s"
        if o.ok:
            reporter.summary(f"ok    {o.service} ({took})")
            continue
        for what in _failed_checks(o.failures):
            click.echo(f"FAIL  {o.service} ({took}): {what}")
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
    if shard is not None:
        part = f" (shard {shard[0]}/{shard[1]} of {len(result.names)} services)"
        reporter.data.update(shard=f"{shard[0]}/{shard[1]}")
    else:
        part = ""
    reporter.summary(f"promspec: {len(outcomes)} services proven by promtool test rules{part}")


def _failed_checks(reports: tuple[str, ...]) -> list[str]:
    """One line per failed check in promtool's reports: the alert (or expression) and
    eval time, then the scenario's name; a report promtool worded otherwise, its last line."""
    found: list[str] = []
    for report in reports:
        scenario = ""
        before = len(found)
        for raw in report.splitlines():
            line = raw.strip()
            if line.startswith("name:"):
                scenario = line.removeprefix("name:").strip().rstrip(",")
            elif line.startswith(("alertname:", "expr:")):
                check = line.rstrip(", ")
                found.append(f"{check}: {scenario}" if scenario else check)
        if len(found) == before:
            lines = [ln.strip() for ln in report.splitlines() if ln.strip()]
            found.append(lines[-1] if lines else "promtool failed")
    return list(dict.fromkeys(found))


def _shard(value: str | None) -> tuple[int, int] | None:
    """'K/N' -> (K, N), or a usage error (exit 2) that says what is expected."""
    if value is None:
        return None
    k, sep, n = value.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise click.BadParameter(f"'{value}' is not K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


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
    from generator import pipeline
    from generator.rules import explain

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
    from generator.spec.validate import schema

    click.echo(json.dumps(schema(), indent=2, sort_keys=False))
