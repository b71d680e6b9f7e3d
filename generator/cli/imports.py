"""`promspec import sloth|openslo FILE`: leave another SLO tool without rewriting specs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from generator.cli.main import main
from generator.cli.output import Reporter, habits
from generator.errors import EXIT_INVALID, Problem
from generator.importers import common as imports
from generator.importers import openslo as import_openslo
from generator.importers import sloth as import_sloth
from generator.spec.load import Document, display_path, load_file

Converter = Callable[[list[Document]], tuple[list[dict[str, Any]], list[Problem]]]

FILE_ARG = click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
STRICT_OPT = click.option(
    "--strict",
    is_flag=True,
    help="Treat every note (a difference from the source) as an error: exit 1, write nothing.",
)
OUT_FILE_OPT = click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the promspec spec here instead of stdout.",
)


@main.group(name="import")
def import_group() -> None:
    """Convert another tool's SLO specs into promspec specs.

    What cannot be carried over exactly is left out and named on stderr (file:line,
    field, why). Review the result, then set team and runbook_base_url.
    """


def _run(
    convert: Converter,
    what: str,
    source: Path,
    out: Path | None,
    reporter: Reporter,
    strict: bool,
) -> None:
    specs, notes = convert(load_file(source))
    if strict and notes:
        for problem in notes:
            reporter.problem(problem)
        noun = "difference" if len(notes) == 1 else "differences"
        reporter.finish(
            EXIT_INVALID,
            f"promspec: {len(notes)} {noun} from {display_path(source)} (--strict); "
            "nothing was written",
        )
    for problem in notes:
        reporter.note(problem)
    if not specs:
        reporter.finish(
            EXIT_INVALID, f"promspec: nothing in {display_path(source)} could be imported as {what}"
        )
    text = imports.dump_specs(specs, f"{display_path(source)} ({what})")
    if out is None and reporter.output == "text":
        click.echo(text, nl=False)
    elif out is not None:
        _write(out, text)
    noted = ""
    if notes:
        noun = "note" if len(notes) == 1 else "notes"
        noted = f", with {len(notes)} {noun} on what differs (above; --strict makes them errors)"
    slos = sum(len(s.get("slos", [])) for s in specs)
    reporter.summary(
        f"promspec: {len(specs)} services ({slos} SLOs) imported from {display_path(source)}"
        + (f" into {out}" if out else "")
        + noted,
        to_stderr=out is None,
        services=[s["service"] for s in specs],
        **({"spec": text} if out is None else {"out": str(out)}),
    )


def _write(path: Path, text: str) -> None:
    """Whole file or nothing: a temporary file renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


WINDOWS_OPT = click.option(
    "--windows",
    "windows",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Sloth AlertWindows file (sloth's --slo-period-windows-path): its period and "
    "windows become the SLOs' period and burn tiers. Repeatable.",
)


@import_group.command(name="sloth")
@FILE_ARG
@OUT_FILE_OPT
@WINDOWS_OPT
@STRICT_OPT
@habits
def sloth(
    source: Path, out: Path | None, windows: tuple[Path, ...], strict: bool, reporter: Reporter
) -> None:
    """Convert a Sloth prometheus/v1 spec (or PrometheusServiceLevel) FILE.

    AlertWindows documents in FILE or in --windows files set the period and windows.
    The imported specs set compat.sloth, so Sloth's dashboards keep their series.
    """
    catalogue = [doc for path in windows for doc in load_file(path)]

    def convert(docs: list[Document]) -> tuple[list[dict[str, Any]], list[Problem]]:
        return import_sloth.convert(docs, catalogue)

    _run(convert, "Sloth prometheus/v1", source, out, reporter, strict)


@import_group.command(name="openslo")
@FILE_ARG
@OUT_FILE_OPT
@STRICT_OPT
@habits
def openslo(source: Path, out: Path | None, strict: bool, reporter: Reporter) -> None:
    """Convert OpenSLO v1 SLO/SLI/Service documents in FILE (Prometheus ratio metrics)."""
    _run(import_openslo.convert, "OpenSLO v1", source, out, reporter, strict)
