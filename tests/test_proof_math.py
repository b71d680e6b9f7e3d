"""Pure pieces behind the proofs: Prometheus' template functions, the evaluation model,
expanding notation, and the detection-time math used by `promspec explain`."""

from __future__ import annotations

import pytest
from conftest import ROOT, run_cli
from test_plan import DAY, HOUR, slo

from generator.promql.fragments import Matcher
from generator.proofs import promsim, promtemplate
from generator.proofs.series import expanding, satisfy
from generator.slo import plan


@pytest.mark.parametrize(
    ("func", "value", "text"),
    [
        (promtemplate.humanize, 1234567.0, "1.235M"),
        (promtemplate.humanize, 0.0123, "12.3m"),
        (promtemplate.humanize, 0.0, "0"),
        (promtemplate.humanize1024, 3 * 1024**3, "3Gi"),
        (promtemplate.humanize_duration, 93784.0, "1d 2h 3m 4s"),
        (promtemplate.humanize_duration, 0.25, "250ms"),
        (promtemplate.humanize_percentage, 0.16, "16%"),
        (promtemplate.humanize_percentage, -0.05, "-5%"),
    ],
)
def test_template_functions_match_prometheus(func, value: float, text: str) -> None:
    assert func(value) == text


def test_expand_and_stability() -> None:
    t = 'burning at {{ $value | printf "%.1f" }}x'
    assert promtemplate.expand(t, 18.04) == "burning at 18.0x"
    assert promtemplate.is_stable(t, 18.04)
    assert not promtemplate.is_stable(t, 18.05)  # a rounding edge: Go may land either side
    with pytest.raises(promtemplate.TemplateUnsupported):
        promtemplate.expand("{{ $labels.instance }}", 1.0)


def test_rate_matches_prometheus_extrapolation() -> None:
    # Samples cover the whole range: no extrapolation.
    points = [(float(t), t * 2.0) for t in range(0, 301, 60)]
    assert promsim.extrapolated_rate(points, 0.0, 300.0) == pytest.approx(2.0)
    # A counter starting at 0 is not extrapolated before its first sample.
    assert promsim.extrapolated_rate([(0.0, 0.0), (30.0, 60.0)], -270.0, 30.0) == pytest.approx(
        60 / 300
    )
    assert promsim.extrapolated_rate([(0.0, 5.0)], -300.0, 0.0) is None


def test_model_steady_ratio_is_the_failed_share_in_every_window() -> None:
    n = 200
    model = promsim.SLOModel(promsim.Traffic(30.0, (100.0,) * n, (0.02,) * n))
    for window in (300.0, 3600.0, 30 * DAY):
        assert model.error_ratio(n - 1, window) == pytest.approx(0.02)
    zero = promsim.SLOModel(promsim.Traffic(30.0, (0.0,) * n, (0.0,) * n))
    assert zero.error_ratio(n - 1, 3600.0) == 0.0  # never NaN


def test_hold_counts_for_from_the_first_true_evaluation() -> None:
    times = [0.0, 30.0, 60.0, 90.0, 120.0]
    assert promsim.hold([False, True, True, True, False], times, 60.0) == (
        False,
        False,
        False,
        True,
        False,
    )
    assert promsim.hold([True, False, True, True, True], times, 0.0) == (
        True,
        False,
        True,
        True,
        True,
    )


def test_expanding_notation_folds_constant_steps() -> None:
    assert expanding([0, 5, 10, 15, 16, 17]) == "0+5x3 16+1x1"
    assert expanding([1.0, 1.0, 1.0]) == "1+0x2"
    assert expanding([7.0]) == "7"


def test_satisfy_builds_labels_the_selector_matches() -> None:
    labels = satisfy((Matcher("job", "=", "api"), Matcher("code", "=~", "5..")))
    assert labels == {"job": "api", "code": "500"}
    assert satisfy((Matcher("code", "!~", "2..|3.."),)) == {}


def test_slowest_detection_and_budget_alert_time() -> None:
    page_fast = plan.plan_slo(slo(99.9, 30))[0].tiers[0]
    assert plan.slowest_detection(page_fast) == 1 * HOUR
    # 80% of a 30d budget of 0.1% at 100% errors: 0.8 * 0.001 * 30d = 34.56 minutes.
    assert plan.budget_alert_time(80, 1.0, 0.001, 30 * DAY, 0) == pytest.approx(2073.6)
    assert plan.budget_alert_time(80, 0.0005, 0.001, 30 * DAY, 0) is None


def test_docs_alerts_md_is_up_to_date() -> None:
    result = run_cli("explain")
    assert result.returncode == 0, result.stderr
    assert (ROOT / "docs" / "alerts.md").read_text() == result.stdout


def test_explain_unknown_service_is_a_usage_error() -> None:
    result = run_cli("explain", "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "promspec: no service 'nope' in specs (services: agent-manager, ai-workflow-cluster, "
        "ai-workflow-platform, api-gateway, etl-pipeline, job-queue, notification-service, "
        "omnihub-api, omnihub-db, omnihub-realtime, omnihub-web, platform-api, platform-cache, "
        "platform-db, rag-system, vector-db, web-frontend, workflow-db, workflow-engine)"
    )


@pytest.mark.parametrize("step", [30.0, 60.0, 300.0])
def test_pieced_windows_count_what_the_counters_gained_exactly(step: float) -> None:
    # Bursty: volume and failed share jump every 7 ticks. A pieced window must equal the
    # counters' gain over it; the overlapping 5m sum it replaced is far off on the same input.
    import random

    rng = random.Random(5)
    n = round(2 * DAY / step)
    events = tuple(10 ** rng.random() * 100 for _ in range(n))
    bad = tuple(rng.choice((0.0005, 0.001, 0.2)) for _ in range(n))
    events = tuple(events[k - k % 7] for k in range(n))
    bad = tuple(bad[k - k % 7] for k in range(n))
    model = promsim.SLOModel(promsim.Traffic(step, events, bad))
    total = [0.0, *events[1:]]
    failed = [0.0] + [e * b for e, b in zip(events[1:], bad[1:], strict=True)]
    worst_overlapping = 0.0
    for window in (1800.0, HOUR, 6 * HOUR, DAY):
        back = round(window / step)
        for k in range(back, n, 17):
            exact = sum(failed[k - back + 1 : k + 1]) / sum(total[k - back + 1 : k + 1])
            assert model.error_ratio(k, window) == pytest.approx(exact, rel=1e-9)
            summed = model.error_ratio(k, window, pieced=False)
            assert summed is not None
            worst_overlapping = max(worst_overlapping, abs(summed - exact) / exact)
    assert worst_overlapping > 0.01
