"""The SLO math: burn factors, impossible tiers, detection times (SRE workbook ch. 5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.slo.plan import (
    LOW_TRAFFIC_DETECTION,
    WindowRecipe,
    advice,
    budget_share,
    burn_factor,
    default_min_failed_events,
    low_traffic,
    plan_slo,
    time_to_exhaustion,
    window_recipes,
)
from generator.spec.model import (
    SLO,
    AlertPolicy,
    BurnTier,
    GaugeIndicator,
    Origin,
    RatioIndicator,
    Selector,
)

DAY = 86400.0
HOUR = 3600.0
ORIGIN = Origin("spec.yaml", 1, 1, "slos[0]")
WORKBOOK = (
    ("page_fast", 2, 1 * HOUR),
    ("page_slow", 5, 6 * HOUR),
    ("ticket_fast", 10, 1 * DAY),
    ("ticket_slow", 10, 3 * DAY),
)


def slo(objective: float, period_days: float, tiers=WORKBOOK) -> SLO:
    return SLO(
        name="availability",
        description="",
        objective=objective,
        period=period_days * DAY,
        group_by=(),
        indicator=RatioIndicator(total=Selector("http_requests_total", ())),
        alerting=AlertPolicy(
            tiers=tuple(
                BurnTier(key, pct, long, long / 12, "critical", 0.0, ORIGIN)
                for key, pct, long in tiers
            ),
            budget_alerts=(),
            min_traffic=0,
            no_data=None,
        ),
        origin=ORIGIN,
    )


@pytest.mark.parametrize(
    ("period_days", "expected"),
    [
        (30, [14.4, 6, 3, 1]),
        (28, [13.44, 5.6, 2.8, 0.9333333333]),
        (7, [3.36, 1.4, 0.7, 0.2333333333]),
    ],
)
def test_workbook_factors(period_days: float, expected: list[float]) -> None:
    factors = [burn_factor(pct, period_days * DAY, long) for _, pct, long in WORKBOOK]
    assert factors == expected


def test_factor_spends_the_stated_budget_share() -> None:
    # At the factor, a tier's long window spends exactly its budget share.
    for _, pct, long in WORKBOOK:
        factor = burn_factor(pct, 30 * DAY, long)
        assert budget_share(factor, long, 30 * DAY) == pytest.approx(pct / 100)


def test_seed_002_slow_burn_is_5_percent_in_a_day() -> None:
    assert burn_factor(5, 30 * DAY, DAY) == 1.5


def test_windows_and_groups() -> None:
    plan, findings = plan_slo(slo(99.9, 30))
    assert findings == []
    assert plan.fast_windows == (300, 1800, 3600, 7200, 21600)
    assert plan.slow_windows == (DAY, 3 * DAY)
    assert plan.period_window == 30 * DAY
    assert [t.tier.key for t in plan.tiers_in(plan.fast_windows)] == ["page_fast", "page_slow"]
    assert [t.tier.key for t in plan.tiers_in(plan.slow_windows)] == ["ticket_fast", "ticket_slow"]


def test_period_equal_to_a_window_is_recorded_once() -> None:
    plan, _ = plan_slo(slo(99.9, 3))
    assert plan.period_window is None
    assert 3 * DAY in plan.slow_windows


def test_objective_90_makes_page_fast_impossible() -> None:
    # A total outage at 90% burns at 10x; page fast needs 14.4x (workbook's own example).
    plan, findings = plan_slo(slo(90, 30))
    assert [f.tier.key for f in findings] == ["page_fast"]
    assert "can never fire" in findings[0].message
    assert "at most 10" in findings[0].message
    assert [t.tier.key for t in plan.tiers] == ["page_slow", "ticket_fast", "ticket_slow"]


def test_exactly_one_is_impossible() -> None:
    # factor x budget == 1 needs an error ratio above 100%.
    _, findings = plan_slo(slo(100 - 100 / 14.4, 30))
    assert [f.tier.key for f in findings] == ["page_fast"]


def test_five_nines_empties_the_budget_in_26_seconds() -> None:
    plan, _ = plan_slo(slo(99.999, 30))
    full_outage_burn = 1 / plan.error_budget
    assert time_to_exhaustion(full_outage_burn, 30 * DAY) == pytest.approx(25.92)


def test_detection_time_of_a_total_outage() -> None:
    plan, _ = plan_slo(slo(99.9, 30))
    page_fast = plan.tiers[0]
    # 100% errors: the 1h window crosses 14.4 x 0.001 after 1h x 0.0144 = 51.84s.
    assert page_fast.detection_time(1.0, plan.error_budget) == pytest.approx(51.84)
    # Exactly at the factor the alert never fires (the comparison is strict).
    assert page_fast.detection_time(0.0144, plan.error_budget) is None
    # Twice the factor: half the long window.
    assert page_fast.detection_time(0.0288, plan.error_budget) == pytest.approx(1800)


def test_windows_are_back_to_back_copies_of_shorter_recorded_windows() -> None:
    plan, _ = plan_slo(slo(99.9, 30))
    assert [(r.window, r.source, r.pieces) for r in plan.recipes] == [
        (1800, 300, 6),
        (HOUR, 1800, 2),
        (2 * HOUR, HOUR, 2),
        (6 * HOUR, 2 * HOUR, 3),
        (DAY, 6 * HOUR, 4),
        (3 * DAY, DAY, 3),
        # 10 x 3d would take 9 copies; 2 x 15d with 15d = 5 x 3d takes 5.
        (15 * DAY, 3 * DAY, 5),
        (30 * DAY, 15 * DAY, 2),
    ]
    assert plan.recipe(15 * DAY).offsets == tuple(k * 3 * DAY for k in range(5))
    assert [r.window for r in plan.recipes_in("slow")] == [DAY, 3 * DAY, 15 * DAY]
    assert [r.window for r in plan.recipes_in("period")] == [30 * DAY]


def test_a_chain_of_too_many_copies_gets_an_intermediate_window() -> None:
    # 28d is no multiple of 3d, and 28 copies of 1d are too many: 4 x 7d, 7d = 7 x 1d.
    plan, _ = plan_slo(slo(99.9, 28))
    assert (7 * DAY, DAY, 7) in [(r.window, r.source, r.pieces) for r in plan.recipes]
    assert plan.recipe(28 * DAY) == WindowRecipe(28 * DAY, 7 * DAY, 4)
    assert plan.has_slow_group and 7 * DAY in [r.window for r in plan.recipes_in("slow")]


def test_a_window_no_copies_can_build_is_summed_over_the_5m_rates() -> None:
    # 7m30s is no multiple of 5m; 1h30m is 3 x 30m, 30m = 6 x 5m (7 copies, where
    # 2 x 45m, 45m = 9 x 5m would take 9).
    recipes = window_recipes((300.0, 450.0, 5400.0))
    assert [(r.window, r.source, r.pieces) for r in recipes] == [(1800, 300, 6), (5400, 1800, 3)]
    # A prime count of copies above the limit: no recipe (37 x 5m).
    assert window_recipes((37 * 300.0,)) == ()


def test_a_critical_tier_below_factor_1_is_advised_against_and_1_itself_is_not() -> None:
    # Every tier of slo() is critical. On 28d ticket_slow's factor is 0.933: it would
    # wake someone at burns that leave budget at the end of the period. On 30d it is
    # exactly 1 (the workbook's), which spends the budget exactly: no advice.
    plan_28d, _ = plan_slo(slo(99.9, 28))
    assert [str(p) for p in advice([plan_28d])] == [
        "spec.yaml:1:1: slos[0]: ticket_slow pages (severity critical) at burn rates above "
        "0.9333, below 1, at which the budget outlasts the period; raise its budget_percent, "
        "shorten its long_window, or lower its severity"
    ]
    plan_30d, _ = plan_slo(slo(99.9, 30))
    assert advice([plan_30d]) == []


# -- the low-traffic guard: min_failed_events -------------------------------------------


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (99.99, [2, 2, 2, 2]),  # one failure never pages, whatever the tier
        (99.9, [2, 3, 5, 5]),
        (99.0, [9, 22, 44, 44]),  # page_fast: ceil(14.4 x 0.01 x 60) = ceil(8.64)
        # 6 x 0.05 x 360 is 108.00000000000001 in floats: rounded first, not 109.
        (95.0, [44, 108, 216, 216]),
    ],
)
def test_default_guard_is_the_failures_a_tier_needs_at_one_event_a_minute(
    objective: float, expected: list[int]
) -> None:
    plan, findings = plan_slo(slo(objective, 30))
    assert not findings
    assert [tp.min_failed_events for tp in plan.tiers] == expected
    budget = plan.error_budget
    for tp in plan.tiers:
        computed = default_min_failed_events(tp.factor, budget, tp.tier.long_window)
        assert computed == tp.min_failed_events


def test_a_tier_s_own_guard_wins_and_a_gauge_sli_has_none_by_default() -> None:
    own = slo(99.99, 30)
    tiers = own.alerting.tiers
    own = replace(
        own,
        alerting=replace(
            own.alerting,
            tiers=(
                replace(tiers[0], min_failed_events=5),
                replace(tiers[1], min_failed_events=1),
                *tiers[2:],
            ),
        ),
    )
    assert [tp.min_failed_events for tp in plan_slo(own)[0].tiers] == [5, 1, 2, 2]
    gauge = replace(slo(99.99, 30), indicator=GaugeIndicator(Selector("probe_success", ())))
    assert [tp.min_failed_events for tp in plan_slo(gauge)[0].tiers] == [1, 1, 1, 1]
    assert low_traffic(plan_slo(gauge)[0]) is None


def test_the_guard_waits_for_its_failures_only_at_low_traffic() -> None:
    plan, _ = plan_slo(slo(99.99, 30))
    page_fast = plan.tiers[0]
    budget = plan.error_budget
    # 100 requests a second on 99.9%-like traffic: the ratio decides, as without a guard.
    assert page_fast.detection_time(1.0, budget, 100.0) == page_fast.detection_time(1.0, budget)
    # 2 a minute, every event failing: 2 failures take a minute; the ratio needs 5.2s.
    assert page_fast.detection_time(1.0, budget, 2 / 60) == pytest.approx(60.0)
    assert page_fast.detection_time(1.0, budget) == pytest.approx(5.184)
    # One event an hour never brings 2 failures into page_fast's hour.
    assert page_fast.detection_time(1.0, budget, 1 / 3600) is None


def test_low_traffic_is_where_one_failure_is_twice_every_page_factor() -> None:
    # 99.99%: one failure alone is above page_slow's 6x below 4.63 events a minute; half,
    # in whole events a minute: 2. There an outage pages after a minute.
    plan, _ = plan_slo(slo(99.99, 30))
    assert low_traffic(plan) == pytest.approx(2 / 60)
    detect = min(tp.detection_time(1.0, plan.error_budget, 2 / 60) or 1e9 for tp in plan.tiers)
    assert detect <= LOW_TRAFFIC_DETECTION
    # 99.9%: under one event a minute (0.46; half: 0.23): one every 5 minutes, where
    # page_fast's 2 failures take 10 minutes of an outage.
    plan, _ = plan_slo(slo(99.9, 30))
    assert low_traffic(plan) == pytest.approx(1 / 300)
    assert plan.tiers[0].detection_time(1.0, plan.error_budget, 1 / 300) == pytest.approx(600)
    # 99.5%: one failure pages every page tier only below one event in 11 minutes.
    assert low_traffic(plan_slo(slo(99.5, 30))[0]) is None
    # Without a guard on a page tier one failure pages there: nothing to show.
    off = slo(99.99, 30)
    tiers = off.alerting.tiers
    off = replace(
        off,
        alerting=replace(off.alerting, tiers=(replace(tiers[0], min_failed_events=1), *tiers[1:])),
    )
    assert low_traffic(plan_slo(off)[0]) is None
