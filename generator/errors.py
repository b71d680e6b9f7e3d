"""User-facing errors: one line each, naming file, line and field, and what to do."""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes, stable for scripts and pre-commit.
EXIT_OK = 0
EXIT_INVALID = 1  # the specs are wrong (or out/ is stale for `check`)
EXIT_USAGE = 2  # the command line is wrong
EXIT_TOOL = 3  # promspec or promtool itself failed


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about a spec, printable on one line."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(Exception):
    """The specs cannot be compiled; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Problem]]]:
        # Raised in a worker process, it crosses to the parent pickled: whole.
        return (SpecError, (self.problems,))


class ToolError(Exception):
    """An external tool (promtool) or the environment failed; not the user's spec."""


class OutputError(Exception):
    """--out names a place promspec must not replace (a usage error, exit 2)."""
