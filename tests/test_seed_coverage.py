"""docs/seed-coverage.md against out/: every rule the table names exists, nothing escapes.

The table maps each monitorable number of the five seed documents to the rules generated
for it. A rule renamed or dropped from a spec, a spec without a row, or a generated alert
no row accounts for fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from conftest import ROOT

from generator.promql import fragments as promql
from generator.promql.expr import from_parsed
from generator.rules.slo import carried

DOC = ROOT / "docs" / "seed-coverage.md"
OUT = ROOT / "out" / "prometheus"
SPECS = ROOT / "specs"
SEEDS = ("000", "001", "002", "003", "004")

SECTION = re.compile(r"^## (\d{3}) ")
ITEM = re.compile(r"`([^`]+)`")
RULE_REF = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{([^}]*)\})?$")


@dataclass(frozen=True)
class Ref:
    seed: str
    service: str
    name: str
    labels: tuple[tuple[str, str], ...]
    line: int

    @property
    def is_record(self) -> bool:
        return ":" in self.name


def parse_refs(text: str) -> list[Ref]:
    """The rule references of the per-seed tables (| number | service | field | rules |)."""
    refs: list[Ref] = []
    seed = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            match = SECTION.match(line)
            seed = match.group(1) if match else None
            continue
        if seed is None or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] == "Number in the seed":
            continue
        for item in ITEM.findall(cells[3]):
            m = RULE_REF.match(item)
            assert m, f"seed-coverage.md:{lineno}: cannot read rule reference `{item}`"
            labels = tuple(
                tuple(pair.split("=", 1)) for pair in (m.group(2) or "").split(",") if pair
            )
            refs.append(Ref(seed, cells[1], m.group(1), labels, lineno))
    return refs


def load_rules(service: str) -> list[dict[str, Any]]:
    path = OUT / f"{service}.rules.yml"
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def writes(rule: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether the rule writes a series with these labels: its own labels, or, for a
    window rule shared by the SLOs of a service (no labels of its own), the labels of
    the series it reads, as its first selector's matchers select them."""
    own = rule.get("labels")
    if own:
        # An SLO alert leaves out the service and slo labels its expression carries.
        node = from_parsed(promql.parse(rule["expr"], promql.MAX_RULE_CHARS))
        gets = {**carried(node), **own}
        return all(gets.get(k) == v for k, v in labels.items())
    _, matchers = promql.vector_selectors(rule["expr"])[0]
    for k, v in labels.items():
        for m in matchers:
            if m.name == k and not (
                (m.op == "=" and m.value == v) or (m.op == "=~" and re.fullmatch(m.value, v))
            ):
                return False
    return any(m.name == "service" for m in matchers)


def missing(refs: list[Ref], rules_of: dict[str, list[dict[str, Any]]]) -> list[str]:
    """References no generated rule of that service satisfies (name and labels)."""
    problems = []
    for ref in refs:
        key = "record" if ref.is_record else "alert"
        wanted = {**dict(ref.labels), "service": ref.service}
        found = any(
            rule.get(key) == ref.name and writes(rule, wanted)
            for rule in rules_of.get(ref.service, [])
        )
        if not found:
            shown = ref.name + (
                "{" + ",".join(f"{k}={v}" for k, v in ref.labels) + "}" if ref.labels else ""
            )
            problems.append(f"seed-coverage.md:{ref.line}: {ref.service} has no rule {shown}")
    return problems


REFS = parse_refs(DOC.read_text())
SERVICES = sorted({r.service for r in REFS})
RULES = {s: load_rules(s) for s in SERVICES}


def test_every_seed_has_a_table() -> None:
    assert sorted({r.seed for r in REFS}) == list(SEEDS)


def test_every_rule_named_in_the_table_is_generated() -> None:
    assert len(REFS) > 300  # the parser found the tables, not an empty file
    assert missing(REFS, RULES) == []


def test_every_spec_has_rows() -> None:
    specs = sorted(p.stem for p in SPECS.glob("*.yaml") if not p.name.startswith("_"))
    assert specs == SERVICES


def test_no_generated_alert_escapes_the_table() -> None:
    named = {(r.service, r.name) for r in REFS}
    escaped = sorted(
        f"{service}: {rule['alert']}"
        for service, rules in RULES.items()
        for rule in rules
        if "alert" in rule and (service, rule["alert"]) not in named
    )
    assert escaped == []


def test_a_vanished_rule_is_reported() -> None:
    """The check itself can fail: a renamed alert and a wrong label are both caught."""
    text = (
        "## 004 x\n| n | s | f | r |\n|---|---|---|---|\n"
        "| a | rag-system | f | `RagSystemHighErrorRate{severity=warning}`, "
        "`RagSystemGone`, `RagSystemHighErrorRate{severity=critical}`, "
        "`capacity:headroom:ratio{check=replicas}`, `capacity:headroom:ratio{check=nope}` |\n"
    )
    refs = parse_refs(text)
    assert [r.name for r in refs][:2] == ["RagSystemHighErrorRate", "RagSystemGone"]
    problems = missing(refs, {"rag-system": load_rules("rag-system")})
    assert problems == [
        "seed-coverage.md:4: rag-system has no rule RagSystemGone",
        "seed-coverage.md:4: rag-system has no rule RagSystemHighErrorRate{severity=critical}",
        "seed-coverage.md:4: rag-system has no rule capacity:headroom:ratio{check=nope}",
    ]


def test_wrong_service_is_reported() -> None:
    refs = parse_refs(
        "## 000 x\n| n | s | f | r |\n|---|---|---|---|\n"
        "| a | platform-api | f | `VectorDbCpuHigh` |\n"
    )
    assert missing(refs, {"platform-api": load_rules("platform-api")}) == [
        "seed-coverage.md:4: platform-api has no rule VectorDbCpuHigh"
    ]
