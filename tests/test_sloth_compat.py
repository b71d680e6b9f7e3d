"""compat.sloth: the Sloth-named copies are built as data (generator/rules/sloth_compat.py),
with the exact text and labels Sloth's dashboards read."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT

from generator import pipeline
from generator.promql.expr import line
from generator.rules import sloth_compat
from generator.slo.plan import plan_service

SPEC = ROOT / "tests" / "fixtures" / "import" / "sloth-payments.expected.yaml"


def _rules(tmp_path: Path) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    (tmp_path / "payments-api.yaml").write_text(SPEC.read_text())
    (tmp_path / "_defaults.yaml").write_text((ROOT / "specs" / "_defaults.yaml").read_text())
    [service] = pipeline.build_services([tmp_path])
    plans, _ = plan_service(service)
    group = sloth_compat.group(service, plans)
    assert (group.name, group.interval) == ("promspec.payments-api.sloth", 30)
    out = {}
    for r in group.rules:
        assert r.record is not None
        out[(r.record, r.labels["sloth_slo"])] = (line(r.expr), r.labels)
    return out


def test_copies_drop_service_and_slo_and_carry_sloths_labels(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    text, labels = rules[("slo:sli_error:ratio_rate30m", "requests-availability")]
    own = '{service="payments-api",slo="requests-availability"}'
    assert text == f"max without (service, slo) (slo:sli_error:ratio_rate30m{own})"
    assert labels == {
        "sloth_service": "payments-api",
        "sloth_slo": "requests-availability",
        "sloth_id": "payments-api-requests-availability",
        "sloth_window": "30m",
    }
    # The current burn reads the SLO's shortest alert window: 2h for webhook-delivery,
    # whose tiers start there.
    text, _ = rules[("slo:current_burn_rate:ratio", "webhook-delivery")]
    own = '{service="payments-api",slo="webhook-delivery"}'
    assert text == (
        f"max without (service, slo) (slo:sli_error:ratio_rate2h{own}"
        f" / on (service, slo) group_left slo:error_budget:ratio{own})"
    )
    assert rules[("slo:time_period:days", "webhook-delivery")][0] == "vector(30)"
    text, labels = rules[("sloth_slo_info", "webhook-delivery")]
    assert (text, labels["sloth_objective"]) == ("vector(1)", "99")
