"""Scenarios for threshold, capacity, freshness, expiry and absence alerts (placeholder)."""

from __future__ import annotations

from generator.model import Service
from generator.proofdata import RuleInfo, Scenario


def check_scenarios(service: Service, rules: list[RuleInfo]) -> tuple[list[Scenario], list[str]]:
    return [], []
