"""The layered SLO proofs: what an alert's test group inputs, and the invariant that no
rule of the file writes one of its input series (generator/proofs/layers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import one_slo_spec, run_cli

from generator import conventions
from generator.proofs import layers
from generator.proofs.proofdata import RuleInfo, rule_infos

HOUR = 3600.0


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[RuleInfo]:
    root = tmp_path_factory.mktemp("layers")
    (root / "specs").mkdir()
    (root / "specs" / "a.yaml").write_text(one_slo_spec())
    result = run_cli("generate", str(root / "specs"), "--out", str(root / "out"), "--no-cache")
    assert result.returncode == 0, result.stderr
    text = Path(root / "out" / "prometheus" / "a.rules.yml").read_text()
    return rule_infos(yaml.safe_load(text))


def names() -> dict[str, tuple[str, float]]:
    return layers.predicted([300.0, 1800.0, HOUR, 2 * HOUR, 6 * HOUR, 86400.0, 3 * 86400.0])


def test_a_burn_tier_reads_its_two_error_ratio_windows_and_its_guards_errors(
    rules: list[RuleInfo],
) -> None:
    recordings = [r for r in rules if r.record]
    page_fast = next(r for r in rules if r.labels.get("burn_tier") == "page_fast")
    found = layers.reads(page_fast, recordings, names())
    labels = (("service", "a"), ("slo", "g"))
    # 99.9%: the default low-traffic guard wants 2 failed events in the 1h window.
    assert found == (
        layers.Read("slo:sli_error:ratio_rate1h", "ratio", HOUR, labels),
        layers.Read("slo:sli_error:ratio_rate5m", "ratio", 300.0, labels),
        layers.Read("slo:sli_events:rate1h", "errors", HOUR, (*labels, ("events", "errors"))),
    )


def test_a_budget_alert_reads_the_period_ratio_and_history_through_its_rule(
    rules: list[RuleInfo],
) -> None:
    recordings = [r for r in rules if r.record]
    low = next(r for r in rules if r.alert.endswith("ErrorBudgetLow"))
    found = layers.reads(low, recordings, layers.predicted([30 * 86400.0]))
    assert [(r.metric, r.kind) for r in found] == [
        ("slo:sli_error:ratio_rate30d", "ratio"),
        ("slo:sli_events:rate30d", "history"),
    ]


def test_a_guard_on_failed_events_brings_its_errors_window_as_an_input(
    rules: list[RuleInfo],
) -> None:
    # The per-tier low-traffic guard another change adds: the tier's group must input the
    # errors window it reads, whatever else the alert reads.
    guard = RuleInfo(
        "AGErrorBudgetBurn",
        {"burn_tier": "page_fast"},
        {},
        'slo:sli_error:ratio_rate1h{service="a",slo="g"} / 0.001 > 14.4 and ignoring (events) '
        'round(slo:sli_events:rate1h{service="a",slo="g",events="errors"} * 3600) >= 3',
    )
    found = layers.reads(guard, [r for r in rules if r.record], names())
    assert (
        layers.Read(
            "slo:sli_events:rate1h",
            "errors",
            HOUR,
            (("service", "a"), ("slo", "g"), ("events", "errors")),
        )
        in found
    )
    series = ['slo:sli_error:ratio_rate1h{service="a",slo="g"}']
    series.append('slo:sli_events:rate1h{events="errors",service="a",slo="g"}')
    assert layers.conflicts(rules, series) == []


def test_recorded_windows_as_inputs_are_written_by_no_rule(rules: list[RuleInfo]) -> None:
    series = [
        'slo:sli_error:ratio_rate1h{service="a",slo="g"}',
        'slo:sli_error:ratio_rate5m{service="a",slo="g"}',
        'slo:sli_error:ratio_rate30d{service="a",slo="g"}',
        'slo:sli_events:rate30d{events="history",service="a",slo="g"}',
    ]
    assert layers.conflicts(rules, series) == []


def test_an_input_a_rule_would_also_write_is_refused(rules: list[RuleInfo]) -> None:
    # The 5m rules write the errors and history rates from the total one: inputting the
    # 5m rates would mix the scenario's samples with the rules' in one series.
    series = [
        f'{conventions.SLI_EVENTS}{{events="{kind}",service="a",slo="g"}}'
        for kind in ("total", "errors", "history")
    ]
    found = layers.conflicts(rules, series)
    assert [f.split("{")[0] for f in found] == [conventions.SLI_EVENTS] * 2
    assert any("events=errors" in f for f in found)
    assert any("events=history" in f for f in found)
    with pytest.raises(layers.LayerError, match="rules of the file also write its input"):
        layers.check(rules, "t", series)
