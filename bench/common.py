"""What every benchmark shares: the machine it ran on, timed subprocesses, results files.

Each measurement is a fresh process, as a pre-commit hook runs it, so interpreter start
and imports count. Peak memory is /usr/bin/time's %M: the largest resident set of the
command or of a process it waited for (workers, promtool). (wait4() of a child forked
from this process would report this process's own size when that is larger.) CPU is
user + system seconds of the command and everything it waited for: on a shared machine
it moves far less than wall time.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
TIME = "/usr/bin/time"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    promtool = subprocess.run(["promtool", "--version"], capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "promtool": (promtool.stdout.splitlines() or ["absent"])[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run(cmd: list[str], *, cwd: Path | None = None, expect: int = 0) -> dict[str, Any]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one fresh process; it must exit
    `expect` (0, or 1 for a `check` that finds out/ stale)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", *cmd], cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != expect:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {stderr.strip()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": int(stderr.split()[-1]) / 1024,
        "stdout": stdout,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
        "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 3),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs), 1),
        "runs_wall_s": [round(r["wall_s"], 3) for r in runs],
    }


def save(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json, written whole (a killed run leaves the old file)."""
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{name}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(target)
    return target
