"""Proof cost: `promspec test` on the seed services' specs, and its verdict.

Proving the 19 seed services is minutes of promtool on 2 cores (about half of what the
test suite would cost), so it runs here and in CI after `make test` (.ci/run), not in
`make test`, whose fixtures and windows specs prove the same machinery. It prints each
service's line, then wall and CPU seconds (user + system of promspec and every promtool
it ran) and peak memory, and exits 1 when any alert is not proven.

Run: .venv/bin/python bench/bench_proofs.py [SPECS_DIR]   (default: specs/)
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from common import PYTHON, ROOT, machine


def main() -> int:
    specs = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "specs"
    print(f"promspec test {specs} on {machine()['nproc']} cores", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [PYTHON, "-m", "generator", "test", str(specs)]
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Each service's line, and a FAIL line per failed check (service, alert, scenario).
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    lines = done.stdout.splitlines()
    proven = sum(line.startswith("ok    ") for line in lines)
    failed = len({line.split()[1] for line in lines if line.startswith("FAIL  ")})
    print(f"proofs: {wall:.0f} s wall, {cpu:.0f} CPU s, peak {after.ru_maxrss / 1024:.0f} MiB")
    print(f"seeds: {proven} passed, {failed} failed")
    return 0 if done.returncode == 0 and proven else 1


if __name__ == "__main__":
    sys.exit(main())
