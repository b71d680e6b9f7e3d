"""Mutation bench: do the generated proofs catch wrong alert rules? (issue 23, point 2)

For the ratio, latency and gauge SLOs of bench/bench_proof_cpu.py and seed services,
writes the proofs (`promspec test --write-proofs P`), then for every alerting rule of
the rendered rule file makes mutants:
  never       the expression replaced by one that never returns a sample
  always      the expression replaced by `vector(1)`: fires at every evaluation with the
              rule's own labels
  x1.1, x0.9  every number an alert compares against (a burn tier's factor, a budget or
              threshold level) scaled; a mutant equal to the original (0 x 1.1) is skipped
  window      each recorded window the alert reads (slo:sli_error:ratio_rate<W>,
              slo:sli_events:rate<W>) swapped for the next longer window the rules record
and runs promtool on the unchanged proof files, whole, against the mutated rule file. A
mutant is killed when some file fails (only files naming the alert can fail, so only
those run). Prints killed/total per case and overall, and every survivor.

Run: .venv/bin/python bench/bench_mutants.py [CASE...]   (default: ratio latency gauge
     api-gateway; a CASE that is not a kind of SLO is a seed service of specs/)
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from bench_proof_cpu import SLOS, SPEC, promtool_passes, write_proofs
from common import ROOT

from generator.outputs import check
from generator.units import format_duration, format_number, parse_duration

TARGET = 0.95
_COMPARISON = re.compile(r"(?<![=!<>])(>=|<=|>|<|==)\s*(-?[0-9][0-9.e+-]*)(?![0-9a-zA-Z_])")
_WINDOWED = re.compile(r"\b(slo:sli_error:ratio_rate|slo:sli_events:rate)([0-9]+[smhdwy])\b")


@dataclass(frozen=True)
class Mutant:
    alert: str
    where: str  # the rule's burn tier or severity, to tell same-named alerts apart
    kind: str
    expr: str
    index: tuple[int, int]  # group, rule


def mutants(rules: dict, windows: list[float]) -> list[Mutant]:
    out = []
    for gi, group in enumerate(rules["groups"]):
        for ri, rule in enumerate(group["rules"]):
            if "alert" not in rule:
                continue
            expr = str(rule["expr"])
            labels = rule.get("labels") or {}
            where = labels.get("burn_tier") or labels.get("check") or labels.get("severity", "")
            made = [("never", "vector(0) > 1"), ("always", "vector(1)")]
            for scale in (1.1, 0.9):
                mutated = _COMPARISON.sub(
                    lambda m, s=scale: f"{m[1]} {format_number(float(m[2]) * s)}", expr
                )
                if mutated != expr:
                    made.append((f"x{scale}", mutated))
            for n, m in enumerate(_WINDOWED.finditer(expr)):
                longer = [w for w in windows if w > parse_duration(m[2])]
                if not longer:
                    continue
                swapped = f"{m[1]}{format_duration(min(longer))}"
                mutated = expr[: m.start()] + swapped + expr[m.end() :]
                made.append((f"window {m[2]}->{format_duration(min(longer))} #{n + 1}", mutated))
            out.extend(Mutant(rule["alert"], where, k, e, (gi, ri)) for k, e in made)
    return out


def recorded_windows(rules: dict) -> list[float]:
    found = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            m = _WINDOWED.fullmatch(str(rule.get("record", "")))
            if m:
                found.add(parse_duration(m[2]))
    return sorted(found)


def killed(tool: str, tests: list[Path], alert: str) -> bool:
    for path in tests:
        if alert in path.read_text("utf-8") and not promtool_passes(tool, path):
            return True
    return False


def run_case(case: str, tmp: Path, tool: str) -> tuple[int, int, list[str]]:
    specs = tmp / case / "specs"
    specs.mkdir(parents=True)
    if case in SLOS:
        (specs / "myservice.yaml").write_text(SPEC + SLOS[case])
        service = "myservice"
    else:
        shutil.copy(ROOT / "specs" / f"{case}.yaml", specs)
        shutil.copy(ROOT / "specs" / "_defaults.yaml", specs)
        service = case
    proofs = tmp / case / "proofs"
    write_proofs(specs, proofs)
    rules_path = proofs / "prometheus" / f"{service}.rules.yml"
    original = rules_path.read_text("utf-8")
    rules = yaml.safe_load(original)
    tests = sorted((proofs / "tests").glob(f"{service}.*test.yml"))
    found = mutants(rules, recorded_windows(rules))
    survivors = []
    try:
        for m in found:
            data = yaml.safe_load(original)
            data["groups"][m.index[0]]["rules"][m.index[1]]["expr"] = m.expr
            rules_path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
            if not killed(tool, tests, m.alert):
                survivors.append(f"{m.alert} [{m.where}] {m.kind}: {m.expr}")
    finally:
        rules_path.write_text(original, "utf-8")
    return len(found) - len(survivors), len(found), survivors


def main() -> int:
    tool = check.promtool()
    if tool is None:
        sys.exit(check.PROMTOOL_HINT)
    cases = sys.argv[1:] or ["ratio", "latency", "gauge", "api-gateway"]
    total_killed = total = 0
    with tempfile.TemporaryDirectory(prefix="promspec-mutants-") as tmp:
        for case in cases:
            k, n, survivors = run_case(case, Path(tmp), tool)
            total_killed += k
            total += n
            print(f"{case:12} {k}/{n} mutants killed ({k / n:.1%})", flush=True)
            for s in survivors:
                print(f"  survived: {s}", flush=True)
    share = total_killed / total if total else 0.0
    print(f"all: {total_killed}/{total} killed ({share:.1%}), target {TARGET:.0%}")
    return 0 if share >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
