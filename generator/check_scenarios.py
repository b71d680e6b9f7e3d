"""Scenarios for threshold, capacity, freshness, expiry and absence alerts.

Not generated yet: until they are, every such alert is listed as not proven in the
header of the service's test file, so nobody mistakes silence for proof.
"""

from __future__ import annotations

from generator import conventions
from generator.model import Service
from generator.proofdata import RuleInfo, Scenario


def check_scenarios(service: Service, rules: list[RuleInfo]) -> tuple[list[Scenario], list[str]]:
    slo_alerts = {
        conventions.slo_alert(service.name, slo.name, what)
        for slo in service.slos
        for what in ("ErrorBudgetBurn", "ErrorBudgetLow", "ErrorBudgetExhausted", "SLINoData")
    }
    names = sorted({r.alert for r in rules} - slo_alerts)
    return [], [f"{name}: no generated scenario yet" for name in names]
