"""How commands talk: problems, warnings, results, progress; for people and for machines.

- `--errors text|github`: problems as `error: file:line:col: field: message` lines, or as
  GitHub Actions annotations (`::error file=F,line=L,col=C::message`) that show up on the
  pull request's diff.
- `--output text|json`: the result as a sentence, or as one JSON document on stdout
  (also when the run fails), for scripts.
- `--quiet`: only problems; no summary, no warnings, no progress.
- Colour only when the stream is a terminal and NO_COLOR is not set (no-color.org).
- A progress line on stderr while compiling more than PROGRESS_OVER services, on a
  terminal only: in CI logs a line per step is noise.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, NoReturn, TextIO, TypeVar

import click

from generator.errors import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_TOOL,
    EXIT_USAGE,
    OutputError,
    Problem,
    SpecError,
    ToolError,
)

F = TypeVar("F", bound=Callable[..., Any])

PROGRESS_OVER = 50
ERROR_FORMATS = ("text", "github")
OUTPUT_FORMATS = ("text", "json")


def colour_for(stream: TextIO) -> bool:
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def _gh_escape(text: str, property_value: bool = False) -> str:
    """GitHub workflow-command escaping (data and, more strictly, property values)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_annotation(level: str, message: str, file: str = "", line: int = 0, col: int = 0) -> str:
    props = []
    if file:
        props.append(f"file={_gh_escape(file, True)}")
    if line:
        props.append(f"line={line}")
        if col:
            props.append(f"col={col}")
    props.append("title=promspec")
    return f"::{level} {','.join(props)}::{_gh_escape(message)}"


@dataclass
class Reporter:
    command: str
    errors: str = "text"
    output: str = "text"
    quiet: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _progress_shown: bool = False

    def _err(self, text: str) -> None:
        click.echo(text, err=True, color=colour_for(sys.stderr))

    def problem(self, problem: Problem) -> None:
        self.problems.append(problem)
        self._report(problem, "error", click.style("error:", fg="red", bold=True))

    def file_problem(self, path: str, message: str) -> None:
        """A problem with a generated file (stale out/), not with a spec."""
        if self.errors == "github":
            click.echo(github_annotation("error", message, path), err=True)
        else:
            self._err(message)

    def note(self, problem: Problem) -> None:
        """Something the command could not do exactly (an import's left-overs); always shown."""
        self.data.setdefault("notes", []).append(str(problem))
        self._report(problem, "warning", click.style("note:", fg="cyan", bold=True))

    def _report(self, problem: Problem, level: str, label: str) -> None:
        """One problem on stderr: a GitHub annotation of `level`, or `label` and the line."""
        if self.errors == "github":
            where = f"{problem.field}: " if problem.field else ""
            click.echo(
                github_annotation(
                    level, where + problem.message, problem.file, problem.line, problem.column
                ),
                err=True,
            )
        else:
            self._err(f"{label} {problem}")

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        if self.quiet:
            return
        if self.errors == "github":
            click.echo(github_annotation("warning", message), err=True)
        else:
            self._err(click.style("warning:", fg="yellow", bold=True) + f" {message}")

    def summary(self, message: str, *, to_stderr: bool = False, **data: Any) -> None:
        """The result of a successful run (on stderr when stdout carries the product)."""
        self.data.update(data)
        if self.output == "text" and not self.quiet:
            stream = sys.stderr if to_stderr else sys.stdout
            click.echo(message, err=to_stderr, color=colour_for(stream))

    def progress(self, done: int, total: int) -> None:
        if total <= PROGRESS_OVER or self.quiet or not sys.stderr.isatty():
            return
        self._progress_shown = True
        sys.stderr.write(f"\rpromspec: compiling {done}/{total} services")
        if done == total:
            sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    def finish(self, code: int, message: str = "") -> NoReturn:
        if message and not (code == EXIT_OK and self.quiet):
            self._err(message)
        if self.output == "json":
            document = {
                "command": self.command,
                "ok": code == EXIT_OK,
                "exit_code": code,
                **self.data,
                "problems": [
                    {
                        "file": p.file,
                        "line": p.line,
                        "column": p.column,
                        "field": p.field,
                        "message": p.message,
                    }
                    for p in self.problems
                ],
                "warnings": self.warnings,
            }
            if message and code != EXIT_OK:
                document["error"] = message
            click.echo(json.dumps(document, indent=2))
        sys.exit(code)


ERRORS_OPT = click.option(
    "--errors",
    type=click.Choice(ERROR_FORMATS),
    default="text",
    show_default=True,
    envvar="PROMSPEC_ERRORS",
    help="How problems are printed on stderr: text, or github (Actions annotations on the "
    "pull request). Env: PROMSPEC_ERRORS.",
)
OUTPUT_OPT = click.option(
    "--output",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="The result on stdout: a sentence, or one JSON document (also on failure).",
)
QUIET_OPT = click.option(
    "--quiet", "-q", is_flag=True, help="Print problems only: no summary, warnings or progress."
)


def habits(func: F) -> F:
    """--errors, --output and --quiet for a command, which gets a `reporter`; user and
    tool errors become one-line messages and exit codes, never tracebacks."""

    @ERRORS_OPT
    @OUTPUT_OPT
    @QUIET_OPT
    @wraps(func)
    def wrapper(*args: Any, errors: str, output: str, quiet: bool, **kwargs: Any) -> Any:
        name = click.get_current_context().info_name or func.__name__
        reporter = Reporter(name, errors, output, quiet)
        try:
            func(*args, reporter=reporter, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                reporter.problem(problem)
            noun = "problem" if len(exc.problems) == 1 else "problems"
            reporter.finish(
                EXIT_INVALID, f"promspec: {len(exc.problems)} {noun}; nothing was written"
            )
        except ToolError as exc:
            reporter.finish(EXIT_TOOL, f"promspec: {exc}")
        except OutputError as exc:
            reporter.finish(EXIT_USAGE, f"promspec: {exc}")
        except OSError as exc:
            reporter.finish(EXIT_TOOL, f"promspec: {exc.filename or ''}: {exc.strerror or exc}")
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:
            if os.environ.get("PROMSPEC_DEBUG"):
                traceback.print_exc()
            reporter.finish(
                EXIT_TOOL,
                f"promspec: internal error ({type(exc).__name__}: {exc}); please report it "
                "with the spec that caused it (PROMSPEC_DEBUG=1 shows the traceback)",
            )
        reporter.finish(EXIT_OK)

    return wrapper  # type: ignore[return-value]
