"""Rule-file size per SLO, against Sloth's for the same SLO (issue 20, point 1).

The SLO is Sloth's getting-started example (a 99.9% ratio SLO over 30d on
http_request_duration_seconds_count, errors `code=~"(5..|429)"`) written as a promspec
spec with the defaults every user gets: four burn tiers, budget alerts, the no-data
alert. Sloth's figure for that SLO is the size of its examples/_gen/getting-started.yml
(17 rules, 8,969 bytes in the copy read on 2026-12-04; issue 20 measured 9.6 KB on a
later release): the smaller number is the target. A service of three such SLOs shows
what is shared between SLOs of a service (the window rules).

Figures of 2026-12-04 (docs/benchmarks.md): one SLO 11,303 bytes, 29 rules (1.26x);
three SLOs 7,356 bytes per SLO (0.82x).

Run: .venv/bin/python bench/bench_size.py  (seconds; promtool not needed)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# A hand-built file: the one-SLO output with every cut that keeps the default alerts and
# exact recorded windows (its header comment lists them); a bound, not an output.
LEAN_BOUND = ROOT / "bench" / "lean_bound.rules.yml"
SLOTH_BYTES = 8969
SLOTH_RULES = 17

SLO = """\
  - name: {name}
    objective: 99.9
    indicator:
      ratio:
        errors: http_request_duration_seconds_count{{job="myservice",code=~"(5..|429)"}}
        total: http_request_duration_seconds_count{{job="myservice"}}
"""
SPEC = """\
version: promspec/v1
service: myservice
team: myteam
runbook_base_url: https://runbooks.example.com/myservice
slos:
"""


def measure(names: list[str]) -> tuple[int, int, int, dict[str, int]]:
    """Bytes, lines and rules of the service's rule file, and bytes by kind of rule."""
    with tempfile.TemporaryDirectory(prefix="promspec-size-") as tmp:
        specs = Path(tmp) / "specs"
        specs.mkdir()
        text = SPEC + "".join(SLO.format(name=n) for n in names)
        (specs / "myservice.yaml").write_text(text)
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "generator", "generate", str(specs), "--out", str(out)]
        subprocess.run([*cmd, "--no-promtool", "--quiet"], check=True, cwd=ROOT)
        rules = (out / "prometheus" / "myservice.rules.yml").read_text()
    data = yaml.safe_load(rules)
    kinds: dict[str, int] = {}
    count = 0
    for group in data["groups"]:
        for rule in group["rules"]:
            count += 1
            name = rule.get("record") or "alerts"
            kind = "windows" if name.startswith("slo:sli_") and "ratio" not in name else name
            kind = "ratios" if name.startswith("slo:sli_error:ratio") else kind
            size = len(yaml.safe_dump([rule], sort_keys=False, width=10**6))
            kinds[kind] = kinds.get(kind, 0) + size
    return len(rules.encode()), rules.count("\n"), count, kinds


def main() -> None:
    print(f"Sloth, getting-started (1 SLO): {SLOTH_BYTES:,} bytes, {SLOTH_RULES} rules")
    for names in (["requests_availability"], ["availability", "read", "write"]):
        size, lines, rules, kinds = measure(names)
        per = size / len(names)
        print(
            f"promspec, {len(names)} SLO(s): {size:,} bytes, {lines} lines, {rules} rules; "
            f"{per:,.0f} bytes per SLO = {per / SLOTH_BYTES:.2f}x Sloth's"
        )
        top = sorted(kinds.items(), key=lambda kv: -kv[1])
        print("  by rule: " + ", ".join(f"{k} {v:,}" for k, v in top))
    lines = LEAN_BOUND.read_text().splitlines(keepends=True)
    size = sum(len(line.encode()) for line in lines if not line.startswith("#"))
    rules = sum(1 for line in lines if line.lstrip().startswith(("- record:", "- alert:")))
    print(
        f"bound, 1 SLO ({LEAN_BOUND.name}, comment lines left out): {size:,} bytes, "
        f"{rules} rules = {size / SLOTH_BYTES:.2f}x Sloth's"
    )


if __name__ == "__main__":
    main()
