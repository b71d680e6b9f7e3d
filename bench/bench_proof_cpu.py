"""CPU seconds of promtool on the generated proof files, whole (issue 23, point 1).

Writes the proofs with `promspec test DIR --write-proofs P`, then runs `promtool test
rules` on every file of P/tests exactly as written (every rule of the service's rule
file at every step, no trimming), one file after another, and sums the user + system
seconds of each promtool child (getrusage(RUSAGE_CHILDREN) around each run). promtool
runs with promspec's Go settings (GOMAXPROCS=1, GOGC=400, GOMEMLIMIT=1GiB) unless the
environment sets them. Cases:
  ratio    bench/bench_size.py's SLO (99.9% ratio over 30d, default tiers)   target < 3 s
  latency  the same service with a 99% latency SLO on a histogram            target < 3 s
  gauge    the same service with a 99.9% probe_success SLO                   target < 3 s
  seeds    every spec of specs/ (the five seed systems, 19 services)         target < 120 s

Run: .venv/bin/python bench/bench_proof_cpu.py [CASE...]   (default: all four)
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_size import SLO, SPEC
from common import PYTHON, ROOT, machine

from generator.outputs import check
from generator.proofs.runtests import run_file

SLOS = {
    "ratio": SLO.format(name="availability"),
    "latency": """\
  - name: latency
    objective: 99
    indicator:
      latency:
        histogram: http_request_duration_seconds{job="myservice"}
        threshold: 300ms
        buckets: [0.1, 0.3, 1, 3]
""",
    "gauge": """\
  - name: uptime
    objective: 99.9
    indicator:
      gauge:
        metric: probe_success{job="myservice"}
""",
}
TOP = 5  # files listed per case, costliest first
TARGETS = {"ratio": 3.0, "latency": 3.0, "gauge": 3.0, "seeds": 120.0}


def write_proofs(specs: Path, proofs: Path) -> None:
    cmd = [PYTHON, "-m", "generator", "test", str(specs), "--write-proofs", str(proofs), "-q"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"promspec test {specs} failed:\n{done.stdout}{done.stderr}")


def promtool_passes(tool: str, path: Path) -> bool:
    """`promtool test rules` on one file where it lies, whole, as promspec runs it."""
    return run_file(tool, path)[1] is None


def promtool_cpu(proofs: Path) -> tuple[int, float, float, list[str], list[tuple[float, str]]]:
    """Files, CPU seconds, wall seconds of whole-file promtool runs; failing files; CPU
    seconds per file."""
    tool = check.promtool()
    if tool is None:
        sys.exit(check.PROMTOOL_HINT)
    files = sorted((proofs / "tests").glob("*.yml"))
    cpu = wall = 0.0
    failed = []
    per_file = []
    for path in files:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        passed = promtool_passes(tool, path)
        wall += time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        took = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        cpu += took
        per_file.append((took, path.name))
        if not passed:
            failed.append(path.name)
    return len(files), cpu, wall, failed, per_file


def measure(case: str, tmp: Path) -> bool:
    if case == "seeds":
        specs = ROOT / "specs"
    else:
        specs = tmp / case / "specs"
        specs.mkdir(parents=True)
        (specs / "myservice.yaml").write_text(SPEC + SLOS[case])
    proofs = tmp / case / "proofs"
    write_proofs(specs, proofs)
    files, cpu, wall, failed, per_file = promtool_cpu(proofs)
    ok = cpu < TARGETS[case] and not failed
    print(
        f"{case:8} {files:3} files  {cpu:7.2f} CPU s  {wall:7.2f} s wall  "
        f"target < {TARGETS[case]:g} CPU s: {'ok' if ok else 'MISSED'}"
        + (f"  failing: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    top = sorted(per_file, reverse=True)[:TOP]
    print("  costliest: " + ", ".join(f"{name} {took:.2f}" for took, name in top), flush=True)
    return ok


def main() -> int:
    cases = sys.argv[1:] or ["ratio", "latency", "gauge", "seeds"]
    info = machine()
    print(f"promtool test rules, whole files, one at a time; {info['nproc']} cores, {info['cpu']}")
    print(f"{info['promtool']}; load average at start {info['load_average_at_start']}")
    os.environ.setdefault("PROMSPEC_NO_CACHE", "1")
    with tempfile.TemporaryDirectory(prefix="promspec-proofcpu-") as tmp:
        results = [measure(case, Path(tmp)) for case in cases]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
