"""The PromQL model behind the check scenarios: pure, each case worked out by hand."""

from __future__ import annotations

import math

import pytest

from generator.proofs import promeval
from generator.proofs.promeval import Sample, Storage, labels_of
from generator.proofs.series import Unsupported, expanding, parse_expanding

STEP = 30.0


def storage(series: dict[str, list[float]]) -> Storage:
    """Series given as 'name{a="b"}' text with one sample per 30s tick."""
    s = Storage()
    for text, values in series.items():
        name, _, rest = text.partition("{")
        labels = {"__name__": name}
        for part in filter(None, rest.rstrip("}").split(",")):
            k, v = part.split("=")
            labels[k] = v.strip('"')
        for k, v in enumerate(values):
            s.add(labels_of(labels), k * STEP, v)
    return s


def ev(s: Storage, expr: str, t: float) -> promeval.Value:
    return promeval.evaluate(s, promeval.parse(expr), t)


def as_dict(v: promeval.Value) -> dict[tuple[tuple[str, str], ...], float]:
    assert isinstance(v, list)
    return {x.labels: x.value for x in v}


def counter(slope: float, ticks: int = 21) -> list[float]:
    return [slope * k * STEP for k in range(ticks)]


def test_rate_of_a_linear_counter_over_a_full_window_is_its_slope() -> None:
    s = storage({'c{job="a"}': counter(2.0)})
    (x,) = as_dict(ev(s, 'rate(c{job="a"}[5m])', 600)).values()
    assert x == pytest.approx(2.0)


def test_rate_ramps_up_while_the_window_is_partly_empty() -> None:
    # At 60s: samples at 0, 30, 60 hold 120 events; the counter starts at 0, so the
    # extrapolation stops at zero on the left and the rate is 120 / 300s.
    s = storage({"c": counter(2.0)})
    (x,) = as_dict(ev(s, "rate(c[5m])", 60)).values()
    assert x == pytest.approx(0.4)
    assert ev(s, "rate(c[5m])", 0) == []  # one sample: no rate


def test_irate_and_increase() -> None:
    s = storage({"c": counter(3.0)})
    assert as_dict(ev(s, "irate(c[5m])", 600)) == {(): pytest.approx(3.0)}
    assert as_dict(ev(s, "increase(c[5m])", 600)) == {(): pytest.approx(900.0)}


def test_aggregations_group_by_and_without() -> None:
    s = storage({'g{a="1",b="x"}': [1.0], 'g{a="1",b="y"}': [3.0], 'g{a="2",b="x"}': [5.0]})
    assert as_dict(ev(s, "sum(g)", 0)) == {(): 9.0}
    assert as_dict(ev(s, "avg by (a) (g)", 0)) == {(("a", "1"),): 2.0, (("a", "2"),): 5.0}
    assert as_dict(ev(s, "max without (a) (g)", 0)) == {(("b", "x"),): 5.0, (("b", "y"),): 3.0}
    assert as_dict(ev(s, "count(g)", 0)) == {(): 3.0}
    with pytest.raises(Unsupported):
        ev(s, "topk(1, g)", 0)


def test_one_to_one_matching_and_result_labels() -> None:
    s = storage({'u{i="1",m="x"}': [3.0], 'l{i="1",m="y"}': [4.0]})
    assert ev(s, "u / l", 0) == []  # m differs: no match
    assert as_dict(ev(s, "u / ignoring(m) l", 0)) == {(("i", "1"),): 0.75}
    assert as_dict(ev(s, "u / on(i) l", 0)) == {(("i", "1"),): 0.75}
    # A comparison filters and keeps the left value and metric name; like arithmetic,
    # one-to-one matching drops the ignored labels (and keeps only the `on` ones).
    assert as_dict(ev(s, "u < ignoring(m) l", 0)) == {(("__name__", "u"), ("i", "1")): 3.0}
    assert as_dict(ev(s, "u > bool ignoring(m) l", 0)) == {(("i", "1"),): 0.0}
    with pytest.raises(Unsupported):
        ev(s, "u / on(i) group_left l", 0)


def test_scalars_and_set_operators() -> None:
    s = storage({'a{k="1"}': [1.0], 'a{k="2"}': [5.0], 'b{k="2"}': [7.0]})
    assert as_dict(ev(s, "100 * a > 200", 0)) == {(("k", "2"),): 500.0}
    assert as_dict(ev(s, "a > 2", 0)) == {(("__name__", "a"), ("k", "2")): 5.0}
    assert as_dict(ev(s, "a and b", 0)) == {(("__name__", "a"), ("k", "2")): 5.0}
    assert as_dict(ev(s, "a unless b", 0)) == {(("__name__", "a"), ("k", "1")): 1.0}
    assert sorted(as_dict(ev(s, "b or a", 0)).values()) == [1.0, 7.0]
    assert ev(s, "1 - 2 * 3", 0) == -5.0
    assert ev(s, "time()", 90) == 90.0


def test_division_by_zero_follows_ieee() -> None:
    s = storage({"a": [1.0], "z": [0.0]})
    assert as_dict(ev(s, "a / z", 0)) == {(): math.inf}
    assert math.isnan(as_dict(ev(s, "z / z", 0))[()])


def test_absent_takes_the_equality_matchers_as_labels() -> None:
    s = storage({'up{job="a"}': [1.0]})
    assert ev(s, 'absent(up{job="a"})', 0) == []
    assert ev(s, 'absent(up{job="b",env=~"p.*"})', 0) == [Sample((("job", "b"),), 1.0)]


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    # 100 observations: 50 under 0.1s, 90 under 0.5s. p95 is halfway through the
    # (0.5, 1] bucket's 10 observations: 0.75s.
    s = storage(
        {
            'h_bucket{le="0.1"}': [0.0, 50.0],
            'h_bucket{le="0.5"}': [0.0, 90.0],
            'h_bucket{le="1"}': [0.0, 100.0],
            'h_bucket{le="+Inf"}': [0.0, 100.0],
        }
    )
    q = as_dict(ev(s, "histogram_quantile(0.95, sum by (le) (increase(h_bucket[5m])))", 30))
    assert q == {(): pytest.approx(0.75)}
    # Past the last finite bucket, the quantile is that bucket's bound.
    assert promeval.bucket_quantile(0.99, [(1.0, 50.0), (math.inf, 100.0)]) == 1.0
    assert math.isnan(promeval.bucket_quantile(0.5, [(1.0, 5.0)]))  # no +Inf bucket


def test_predict_linear_extends_the_trend_from_the_evaluation_time() -> None:
    s = storage({"u": [10.0 + 0.5 * k * STEP for k in range(21)]})
    (x,) = as_dict(ev(s, "predict_linear(u[10m], 3600)", 600)).values()
    assert x == pytest.approx(10.0 + 0.5 * 600 + 0.5 * 3600)


def test_instant_selectors_look_back_five_minutes() -> None:
    s = storage({"g": [1.0, 2.0]})
    assert ev(s, "g", 30 + 299) == [Sample((("__name__", "g"),), 2.0)]
    assert ev(s, "g", 30 + 301) == []
    assert ev(s, "g offset 30s", 30) == [Sample((("__name__", "g"),), 1.0)]


def test_clamp_and_abs_drop_the_metric_name() -> None:
    s = storage({"g": [-3.0]})
    assert as_dict(ev(s, "abs(g)", 0)) == {(): 3.0}
    assert as_dict(ev(s, "clamp_min(g, 0)", 0)) == {(): 0.0}
    assert as_dict(ev(s, "clamp(g, -1, 1)", 0)) == {(): -1.0}


def test_unknown_functions_are_unsupported_not_guessed() -> None:
    with pytest.raises(Unsupported, match="holt_winters"):
        ev(storage({"g": [1.0]}), "holt_winters(g[5m], 0.5, 0.5)", 0)


def test_expanding_notation_reads_back_as_promtool_accumulates_it() -> None:
    values = [0.0, 0.1, 0.2, 0.3, 7.0, -1e-05, -2e-05]
    text = expanding(values)
    back = parse_expanding(text)
    assert back == pytest.approx(values)
    # promtool adds the step repeatedly, so 0.1 three times is not exactly 0.3.
    assert parse_expanding("0+0.1x3")[3] == 0.1 + 0.1 + 0.1
