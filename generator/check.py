"""Stage 6: prove the rendered rules with promtool, the same parser Prometheus uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from generator.errors import ToolError

PROMTOOL_HINT = (
    "promtool not found; install it with `apt-get install -y prometheus` (Debian/Ubuntu) "
    "or `make generate`, which does it for you"
)


def promtool() -> str | None:
    return shutil.which("promtool")


def check_rules(files: list[Path]) -> list[str]:
    """promtool's complaints about the rule files; empty when they all pass."""
    tool = promtool()
    if tool is None:
        raise ToolError(PROMTOOL_HINT)
    if not files:
        return []
    result = subprocess.run(
        [tool, "check", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode == 0:
        return []
    lines = (result.stdout + result.stderr).splitlines()
    return [line.strip() for line in lines if line.strip() and "SUCCESS" not in line]
