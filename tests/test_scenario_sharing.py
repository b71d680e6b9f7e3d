"""SLO scenarios are computed once per shape and relabelled per SLO (scenarios._shared):
the result must be what SLOScenarios computes for that SLO alone, for every SLO, and a
field the scenarios depend on must never be shared across."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT

from generator.pipeline import build_services
from generator.proofs import scenarios
from generator.proofs.proofdata import RuleInfo, alert_rules
from generator.rules import render
from generator.slo.plan import plan_slo
from generator.spec.model import SLO, Service

sys.path.insert(0, str(ROOT / "bench"))
from synth import write_specs


def _plain(service: Service, slo: SLO, rules: list[RuleInfo], long: bool) -> Any:
    try:
        return scenarios.SLOScenarios(service, plan_slo(slo)[0], rules, long).all()
    except Exception as exc:
        return type(exc), str(exc)


def _shared(service: Service, slo: SLO, rules: list[RuleInfo], long: bool) -> Any:
    try:
        return scenarios._shared(service, plan_slo(slo)[0], rules, long)
    except Exception as exc:
        return type(exc), str(exc)


def _rules(service: Service) -> list[RuleInfo]:
    plans = [plan_slo(slo)[0] for slo in service.slos]
    return alert_rules(render.render_rules(render.environment(None), service, plans))


def _services(tmp_path: Path) -> list[Service]:
    specs = [ROOT / "specs", FIXTURES, write_specs(tmp_path, 6)]
    return [s for d in specs for s in build_services([d], exclude=ROOT / "out")]


def test_shared_scenarios_are_each_slos_own(tmp_path: Path) -> None:
    scenarios._RECIPES.clear()
    scenarios._LOOKUPS.clear()
    checked = 0
    for service in _services(tmp_path):
        rules = _rules(service)
        for slo in service.slos:
            for long in (False, True):
                assert _shared(service, slo, rules, long) == _plain(service, slo, rules, long), (
                    service.name,
                    slo.name,
                    long,
                )
                checked += 1
    assert checked > 100
    # ...and they were shared: far fewer shapes than SLOs, none given up on.
    assert len(scenarios._RECIPES) < checked / 2
    assert None not in scenarios._RECIPES.values()


def _variants(slo: SLO) -> dict[str, SLO]:
    a = slo.alerting
    tier0 = a.tiers[0]
    out = {
        "objective": replace(slo, objective=99.5),
        "period": replace(slo, period=7 * 86400.0),
        "tier for": replace(
            slo, alerting=replace(a, tiers=(replace(tier0, for_=tier0.for_ + 60), *a.tiers[1:]))
        ),
        "tier window": replace(
            slo,
            alerting=replace(
                a, tiers=(replace(tier0, long_window=tier0.long_window / 2), *a.tiers[1:])
            ),
        ),
        "min_traffic": replace(slo, alerting=replace(a, min_traffic=a.min_traffic + 50)),
        "budget level": replace(
            slo,
            alerting=replace(
                a,
                budget_alerts=tuple(
                    replace(b, consumed_percent=b.consumed_percent / 2) for b in a.budget_alerts
                ),
            ),
        ),
    }
    if a.no_data is not None:
        out["no-data for"] = replace(
            slo, alerting=replace(a, no_data=replace(a.no_data, for_=a.no_data.for_ * 2))
        )
    return out


@pytest.mark.parametrize(
    "field",
    [
        "objective",
        "period",
        "tier for",
        "tier window",
        "min_traffic",
        "budget level",
        "no-data for",
    ],
)
def test_a_field_that_matters_is_not_shared(tmp_path: Path, field: str) -> None:
    service = build_services([write_specs(tmp_path, 1)])[0]
    slo = service.slos[0]  # availability: a ratio with min_traffic, budget and no-data alerts
    variant = _variants(slo)[field]
    rules = _rules(service)
    changed = replace(service, slos=(variant, *service.slos[1:]))
    changed_rules = _rules(changed)
    scenarios._RECIPES.clear()
    scenarios._LOOKUPS.clear()
    for long in (False, True):
        before = _shared(service, slo, rules, long)  # the original's shape is cached now
        after = _shared(changed, variant, changed_rules, long)
        assert after == _plain(changed, variant, changed_rules, long)
        if not long:
            assert after != before, f"{field} changes the fast scenarios"


def test_names_and_selectors_are_relabelled(tmp_path: Path) -> None:
    """Two services of synth.py differ in names and selectors only: one shape each SLO."""
    first, second = build_services([write_specs(tmp_path, 3)])[:3:2]  # the same tier
    scenarios._RECIPES.clear()
    scenarios._LOOKUPS.clear()
    for service in (first, second):
        rules = _rules(service)
        for slo in service.slos:
            for long in (False, True):
                shared = _shared(service, slo, rules, long)
                assert shared == _plain(service, slo, rules, long)
                assert service.name in repr(shared) or not shared
    assert len(scenarios._RECIPES) == 2 * len(first.slos)


def test_annotation_value_forms_are_part_of_the_key() -> None:
    """Whether a value renders stably depends on how the annotation formats it."""
    a = RuleInfo("A", {}, {"summary": "burn {{ $value | humanize }}x, on {{ $labels.x }}"})
    b = RuleInfo("A", {}, {"summary": 'burn {{ $value | printf "%.2f" }}x'})
    c = RuleInfo("A", {}, {"summary": "at {{ $value | humanize }}x"})
    assert scenarios._forms(a) != scenarios._forms(b)
    assert scenarios._forms(a) == scenarios._forms(c)
