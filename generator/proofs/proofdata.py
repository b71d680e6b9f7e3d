"""What a generated promtool test file holds: scenarios, input series, expected alerts.

Plain frozen data, built by generator/proofs/scenarios.py and rendered by templates/tests.yml.j2.
Times are seconds from the start of the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class InputSeries:
    series: str
    values: str


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Labels
    annotations: Labels


@dataclass(frozen=True)
class AlertCheck:
    eval_time: float
    alertname: str
    alerts: tuple[ExpectedAlert, ...]  # empty: the alert must be silent


@dataclass(frozen=True)
class ExprCheck:
    expr: str
    eval_time: float
    samples: tuple[tuple[str, float], ...]  # (series text, value)


@dataclass(frozen=True)
class Scenario:
    name: str
    step: float  # seconds between input samples
    series: tuple[InputSeries, ...]
    alert_checks: tuple[AlertCheck, ...] = ()
    expr_checks: tuple[ExprCheck, ...] = ()


@dataclass(frozen=True)
class TestFile:
    path: str  # under out/
    rule_file: str  # relative to the test file
    evaluation_interval: float
    scenarios: tuple[Scenario, ...]
    # promtool evaluates groups in random order unless told; ours go in file order, so a
    # group always reads what the groups before it recorded at the same evaluation.
    group_order: tuple[str, ...] = ()
    not_proven: tuple[str, ...] = ()  # alerts no scenario could be derived for, and why


@dataclass(frozen=True)
class RuleInfo:
    """A rule as rendered: where expected labels and annotations come from, and what an
    alert reads (its expression, through the recording rules: record set, alert empty)."""

    alert: str
    labels: dict[str, str]
    annotations: dict[str, str]
    expr: str = ""
    record: str = ""


def alert_rules(rules: dict[str, Any]) -> list[RuleInfo]:
    return [r for r in rule_infos(rules) if r.alert]


def rule_infos(rules: dict[str, Any]) -> list[RuleInfo]:
    """Every rule of a rule file, alerting and recording, in file order."""
    return [
        RuleInfo(
            str(r.get("alert", "")),
            dict(r.get("labels", {})),
            dict(r.get("annotations", {})),
            str(r["expr"]),
            str(r.get("record", "")),
        )
        for g in rules["groups"]
        for r in g["rules"]
    ]
