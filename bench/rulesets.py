"""The three rule sets the evaluation benchmark compares, for one ratio SLO.

- promspec: compiled by `promspec generate` itself from SPEC (groups slo-fast 30s,
  slo-slow 5m, slo-period 5m);
- usual: the common shape (Sloth-like): every window from the raw counters, every rule
  every 30 s, the period as the average of the 5m ratios, two alerts each ORing two
  window pairs;
- floor: the two 5m raw recording rules alone, every 30 s: no tool can read less.

Each rule is a plain dict: ruleset, group, interval_s, record or alert name, expr, labels.
Record names never collide between sets (slo:, usual:, floor:), so all three can share
one TSDB.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from common import PYTHON

PROMSPEC = str(Path(PYTHON).parent / "promspec")
OBJECTIVE = 0.999
ERRORS = 'http_requests_total{code=~"5..",job="bench"}'
TOTAL = 'http_requests_total{job="bench"}'
USUAL_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (long, short, factor) of the SRE workbook's four tiers for a 30d period.
TIERS = (("1h", "5m", 14.4), ("6h", "30m", 6), ("1d", "2h", 3), ("3d", "6h", 1))

SPEC = """\
version: promspec/v1
service: bench
team: bench
tier: standard
selector: {job: bench}
slos:
  - name: availability
    objective: 99.9
    period: 30d
    indicator:
      ratio:
        errors: http_requests_total{code=~"5.."}
        total: http_requests_total
"""

DEFAULTS = """\
version: promspec/v1
kind: defaults
team: bench
runbook_base_url: https://runbooks.example.com/bench
tiers: {standard: 99.9}
"""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]]


def from_file(ruleset: str, path: Path) -> list[dict[str, Any]]:
    rules = []
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            rules.append(
                {
                    "ruleset": ruleset,
                    "group": group["name"],
                    "interval_s": seconds(group.get("interval", "1m")),
                    "record": rule.get("record"),
                    "alert": rule.get("alert"),
                    "expr": rule["expr"],
                    "labels": rule.get("labels", {}),
                }
            )
    return rules


def promspec_rules(root: Path) -> tuple[list[dict[str, Any]], Path]:
    """Compile SPEC with the promspec CLI (promtool check included); rules and file."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    (specs / "bench.yaml").write_text(SPEC)
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    subprocess.run(
        [PROMSPEC, "generate", "specs", "--out", "out", "--quiet"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    path = root / "out" / "prometheus" / "bench.rules.yml"
    return from_file("promspec", path), path


def usual_file(path: Path) -> Path:
    budget = 1 - OBJECTIVE
    labels = {"sloth_service": "bench", "sloth_slo": "availability"}
    sel = '{sloth_service="bench",sloth_slo="availability"}'

    def ratio(w: str) -> str:
        return f"usual:sli_error:ratio_rate{w}{sel}"

    rules: list[dict[str, Any]] = [
        {
            "record": f"usual:sli_error:ratio_rate{w}",
            "expr": f"sum(rate({ERRORS}[{w}])) / sum(rate({TOTAL}[{w}]))",
            "labels": dict(labels),
        }
        for w in USUAL_WINDOWS
    ]
    rules.append(
        {
            "record": "usual:sli_error:ratio_rate30d",
            "expr": f"avg_over_time({ratio('5m')}[30d])",
            "labels": dict(labels),
        }
    )
    rules.append(
        {
            "record": "usual:period_error_budget_remaining:ratio",
            "expr": f"1 - {ratio('30d')} / {budget:g}",
            "labels": dict(labels),
        }
    )
    for name, tiers in (("Page", TIERS[:2]), ("Ticket", TIERS[2:])):
        pairs = [
            f"({ratio(long)} > {factor * budget:g} and {ratio(short)} > {factor * budget:g})"
            for long, short, factor in tiers
        ]
        rules.append({"alert": f"Usual{name}", "expr": " or ".join(pairs), "labels": dict(labels)})
    data = {"groups": [{"name": "usual.bench.availability", "interval": "30s", "rules": rules}]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def floor_file(path: Path) -> Path:
    rules = [
        {"record": "floor:sli_total:rate5m", "expr": f"sum(rate({TOTAL}[5m]))"},
        {"record": "floor:sli_errors:rate5m", "expr": f"sum(rate({ERRORS}[5m]))"},
    ]
    data = {"groups": [{"name": "floor.bench", "interval": "30s", "rules": rules}]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def all_rules(root: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Path]]:
    """The rules of each rule set, and the file each one is in."""
    promspec, path = promspec_rules(root)
    usual, floor = usual_file(root / "usual.rules.yml"), floor_file(root / "floor.rules.yml")
    # promspec's file was checked by `promspec generate`; check ours the same way.
    subprocess.run(
        ["promtool", "check", "rules", str(usual), str(floor)], check=True, capture_output=True
    )
    rules = {
        "promspec": promspec,
        "usual": from_file("usual", usual),
        "floor": from_file("floor", floor),
    }
    return rules, {"promspec": path, "usual": usual, "floor": floor}


def references(expr: str, names: set[str]) -> set[str]:
    return {n for n in _NAME.findall(expr) if n in names}


def needs_history(name: str, rules: list[dict[str, Any]]) -> bool:
    """Is `name` read over the past: by a range selector (name{...}[w]), at an offset
    (name{...} offset w), or, for promspec's SLI rates, by the window ratios that the
    accuracy check queries at times hours back?"""
    pattern = re.compile(re.escape(name) + r"(\{[^}]*\})?(\[|\s+offset\s)")
    return name.startswith("slo:sli_") or any(pattern.search(r["expr"]) for r in rules)


_EVENTS = re.compile(r'events="([^"]*)"')


def _reads(expr: str, name: str) -> list[str | None]:
    """The `events` value of every selector of `name` in expr (None: any)."""
    found = []
    for m in re.finditer(re.escape(name) + r"(\{[^}]*\})?", expr):
        end = m.end()
        if end < len(expr) and (expr[end].isalnum() or expr[end] in "_:"):
            continue  # a longer name that starts with this one
        events = _EVENTS.search(m.group(1) or "")
        found.append(events.group(1) if events else None)
    return found


def backfill_levels(rules: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Recording rules by dependency level: level n reads only series of levels < n.

    `promtool tsdb create-blocks-from rules` queries a server that does not see the
    blocks it writes, so each level is backfilled after the previous one is loaded.
    promspec records several rules under one name (slo:sli_events:rate5m with events
    total, errors and history, the last two reading the first), so a rule depends on
    the rules of a name it reads whose `events` label matches the selector's (or that
    set none).
    """
    records = [r for r in rules if r["record"]]
    level: dict[int, int] = {}

    def of(i: int) -> int:
        if i not in level:
            level[i] = 0  # a guard against cycles while this rule is worked out
            deps = []
            for j, other in enumerate(records):
                if j == i:
                    continue
                mine = other["labels"].get("events")
                for want in _reads(records[i]["expr"], other["record"]):
                    if want is None or mine is None or want == mine:
                        deps.append(j)
                        break
            level[i] = 1 + max((of(j) for j in deps), default=-1)
        return level[i]

    levels: list[list[dict[str, Any]]] = []
    for i, rule in enumerate(records):
        n = of(i)
        levels.extend([] for _ in range(n + 1 - len(levels)))
        levels[n].append(rule)
    return levels


def rule_file(rules: list[dict[str, Any]], path: Path) -> Path:
    """A rule file of these recording rules, in their own groups and intervals."""
    groups: dict[str, dict[str, Any]] = {}
    for r in rules:
        group = groups.setdefault(
            r["group"], {"name": r["group"], "interval": f"{r['interval_s']}s", "rules": []}
        )
        entry = {"record": r["record"], "expr": r["expr"]}
        if r["labels"]:
            entry["labels"] = r["labels"]
        group["rules"].append(entry)
    path.write_text(yaml.safe_dump({"groups": list(groups.values())}, sort_keys=False))
    return path
