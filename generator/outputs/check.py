"""Stage 6: prove the rendered rules with promtool, the same parser Prometheus uses, and
an Alertmanager configuration with amtool, Alertmanager's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from generator.errors import ToolError

PROMTOOL_HINT = (
    "promtool not found; install it with `apt-get install -y prometheus` (Debian/Ubuntu) "
    "or `make generate`, which does it for you"
)


AMTOOL_HINT = (
    "amtool not found; install it with `apt-get install -y prometheus-alertmanager` "
    "(Debian/Ubuntu) or `make generate`, which does it for you"
)


# Go's runtime defaults suit a long-running server; promspec runs short promtools, one per
# core: one OS thread each, and a collector that lets the heap grow 5x before it runs
# (softly capped at 1 GiB; Go 1.19+) take a fifth to a third less CPU for the same work.
# Whatever the user set wins.
_GO_RUNTIME = {"GOMAXPROCS": "1", "GOGC": "400", "GOMEMLIMIT": "1GiB"}


def promtool() -> str | None:
    return shutil.which("promtool")


def environment() -> dict[str, str]:
    """The environment promtool runs in."""
    return {**_GO_RUNTIME, **os.environ}


def check_rules(files: list[Path]) -> list[str]:
    """promtool's complaints about the rule files; empty when they all pass.

    promtool checks one file after another on one core (~25 ms per service file): a
    large run splits the files over one promtool per core."""
    from concurrent.futures import ThreadPoolExecutor  # not for `generate` with nothing to do

    from generator import parallel

    tool = promtool()
    if tool is None:
        raise ToolError(PROMTOOL_HINT)
    if not files:
        return []
    count = parallel.jobs(len(files))
    chunks = [files[i::count] for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(lambda chunk: _promtool_check(tool, chunk), chunks))
    if all(r.returncode == 0 for r in results):
        return []
    lines = [line for r in results for line in (r.stdout + r.stderr).splitlines()]
    return [line.strip() for line in lines if line.strip() and "SUCCESS" not in line]


def _promtool_check(tool: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, "check", "rules", *map(str, files)],
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def amtool() -> str | None:
    return shutil.which("amtool")


def check_alertmanager(config: bytes) -> list[str]:
    """amtool's complaints about an Alertmanager configuration; empty when it passes.

    amtool prints the reason after 'FAILED:' on its 'Checking' line, then a summary."""
    import tempfile

    tool = amtool()
    if tool is None:
        raise ToolError(AMTOOL_HINT)
    with tempfile.TemporaryDirectory(prefix="promspec-amtool-") as tmp:
        path = Path(tmp) / "routes.yml"
        path.write_bytes(config)
        result = subprocess.run(
            [tool, "check-config", str(path)],
            env=environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).replace(str(path), "routes.yml")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    summary = ("Checking ", "amtool: error: failed to")
    complaints = [
        line.split("FAILED:", 1)[1].strip() if "FAILED:" in line else line
        for line in lines
        if "FAILED:" in line or not line.startswith(summary)
    ]
    # A failure must never read as a pass, whatever amtool printed.
    return complaints or lines[-1:] or [f"amtool exited with {result.returncode}"]
