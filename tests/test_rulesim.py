"""Rules run over synthetic input, and inputs solved for a level: pure, worked by hand."""

from __future__ import annotations

import pytest

from generator.proofs import promeval
from generator.proofs.rulesim import Case, Family, Rule, families, solve
from generator.proofs.series import Unsupported

STEP = 30.0


def alert(expr: str, for_: float = 0.0, severity: str = "warning") -> Rule:
    return Rule("A", True, promeval.parse(expr), (("severity", severity),), for_)


def test_an_alert_fires_once_its_condition_held_for_for() -> None:
    case = Case("A", [alert("g > 1", for_=60)], [Family("g", (("job", "x"),), "gauge", 2.0)], STEP)
    states = case.run(case.families, 4)
    # active from tick 0; `for: 1m` has passed at tick 2 (60s), not at tick 1
    assert [bool(s) for s in states] == [False, False, True, True]
    (firing,) = states[2]
    assert firing.labels == (("job", "x"), ("severity", "warning"))
    assert firing.value == 2.0


def test_recording_rules_feed_the_alert_at_the_same_evaluation() -> None:
    record = Rule("r:ratio", False, promeval.parse("1 - u / 10"), (("check", "c"),))
    case = Case(
        "A",
        [record, alert('r:ratio{check="c"} < 0.3')],
        [Family("u", (), "gauge", 8.0)],
        STEP,
    )
    (firing,) = case.run(case.families, 1)[0]
    assert firing.labels == (("check", "c"), ("severity", "warning"))
    assert firing.value == pytest.approx(0.2)


def test_families_tell_counters_gauges_and_histograms_apart_and_share_series() -> None:
    exprs = [
        promeval.parse(
            'sum(rate(req_total{code="500"}[5m])) / sum(rate(req_total[5m]))'
            " + g + g + histogram_quantile(0.9, rate(lat_bucket[5m]))"
        )
    ]
    fams = families(exprs, set(), {}, (0.5,))
    kinds = {(f.metric, f.labels): f.kind for f in fams}
    assert kinds == {
        ("req_total", (("code", "500"),)): "counter",
        ("req_total", ()): "counter",
        ("g", ()): "gauge",
        ("lat_bucket", ()): "histogram",
    }


def test_solve_drives_an_error_ratio_to_the_target() -> None:
    expr = 'sum(rate(req_total{code="500"}[5m])) / sum(rate(req_total[5m])) > 0.05'
    case = Case("A", [alert(expr)], families([promeval.parse(expr)], set(), {}, ()), STEP)
    fams = solve(case, 0, 12, 0.0525)
    assert case.operand(fams, 0, 12) == pytest.approx(0.0525, rel=1e-6)
    # errors are part of the total: errors / (errors + others)
    errors = next(f for f in fams if f.labels)
    others = next(f for f in fams if not f.labels)
    assert errors.level / (errors.level + others.level) == pytest.approx(0.0525, rel=1e-6)


def test_solve_says_so_when_no_single_series_reaches_the_target() -> None:
    expr = "count(up == 1) > 3"
    case = Case("A", [alert(expr)], families([promeval.parse(expr)], set(), {}, ()), STEP)
    with pytest.raises(Unsupported, match="no value of any one synthetic series"):
        solve(case, 0, 2, 3.15)


def test_cases_that_differ_only_in_label_values_share_work_and_keep_their_labels() -> None:
    def case(job: str) -> Case:
        expr = f'sum by (job) (rate(req_total{{job="{job}",code="500"}}[5m])) > 0.5'
        fams = families([promeval.parse(expr)], set(), {}, ())
        rule = Rule("A", True, promeval.parse(expr), (("service", job), ("severity", "page")))
        return Case("A", [rule], fams, STEP)

    a, b = case("a"), case("b")
    fa, fb = solve(a, 0, 12, 0.525), solve(b, 0, 12, 0.525)  # b: a's search, reused
    assert [f.level for f in fa] == [f.level for f in fb]
    assert [f.labels for f in fb] == [(("code", "500"), ("job", "b"))]
    (fired_a,) = a.run(fa, 13)[12]
    (fired_b,) = b.run(fb, 13)[12]  # a's simulation, labels renamed back to b's
    assert fired_a.labels == (("job", "a"), ("service", "a"), ("severity", "page"))
    assert fired_b.labels == (("job", "b"), ("service", "b"), ("severity", "page"))
    assert fired_a.value == fired_b.value == pytest.approx(0.525)
