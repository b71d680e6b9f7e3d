"""The labels an SLO rule states: only those its expression's result does not carry.

Prometheus gives a recorded series or an alert the labels of the expression's result,
then the rule's `labels:`. Where the result already has a label with that value, the rule
file need not repeat it; what the series and alerts end up with must not change (the
promtool proofs assert exact alert labels)."""

from __future__ import annotations

from generator.promql.expr import Aggregate, Binary, Call, Number, Selector, String
from generator.promql.fragments import Matcher
from generator.rules.slo import Rule, carried

OWN = (Matcher("service", "=", "shop"), Matcher("slo", "=", "availability"))
RATIO = Selector("slo:sli_error:ratio_rate1h", OWN)
TOTAL = Selector("slo:sli_events:rate5m", (*OWN, Matcher("events", "=", "total")))


def test_a_burn_alert_carries_service_and_slo_from_its_ratios() -> None:
    burn = Binary(">", Binary("/", RATIO, Number(0.001)), Number(14.4))
    expr = Binary("and", burn, burn)
    assert carried(expr) == {"service": "shop", "slo": "availability"}
    rule = Rule(
        expr,
        alert="ShopAvailabilityErrorBudgetBurn",
        labels=dict(
            service="shop", slo="availability", severity="critical", team="t", burn_tier="page_fast"
        ),
    )
    assert rule.shown_labels == {"severity": "critical", "team": "t", "burn_tier": "page_fast"}


def test_absent_carries_the_equality_matchers_only() -> None:
    sel = Selector("slo:sli_events:rate5m", (*OWN, Matcher("job", "=~", "a|b")))
    assert carried(Call("absent", (sel,))) == {"service": "shop", "slo": "availability"}


def test_a_recording_rule_states_every_label() -> None:
    # promtool finds duplicates by record name and stated labels: two SLOs' history
    # rules would both state only {events: history}.
    history = Binary("+", Binary("*", Number(0), TOTAL), Number(1))
    labels = dict(service="shop", slo="availability", events="history")
    rule = Rule(history, record="slo:sli_events:rate5m", labels=labels)
    assert rule.shown_labels == labels


def test_an_alert_states_a_label_its_result_has_with_another_value() -> None:
    rule = Rule(
        Call("absent", (TOTAL,)),
        alert="ShopAvailabilitySLINoData",
        labels=dict(service="shop", slo="availability", events="none", severity="warning"),
    )
    assert rule.shown_labels == {"events": "none", "severity": "warning"}


def test_matching_and_aggregation_drop_what_prometheus_drops() -> None:
    errors = Selector("slo:sli_events:rate1h", (*OWN, Matcher("events", "=", "errors")))
    assert carried(Binary("/", errors, TOTAL, ignoring=("events",))) == dict(
        service="shop", slo="availability"
    )
    assert carried(Binary("/", errors, TOTAL, on=("slo",))) == {"slo": "availability"}
    assert carried(Binary("/", errors, TOTAL, on=("slo",), group="group_left")) == {}
    assert carried(Binary("or", errors, TOTAL)) == {"service": "shop", "slo": "availability"}
    assert carried(Aggregate("sum", errors)) == {}
    assert carried(Aggregate("sum", errors, ("events",), without=True)) == dict(
        service="shop", slo="availability"
    )
    assert carried(Aggregate("sum", errors, ("slo",))) == {"slo": "availability"}
    relabelled = Call("label_replace", (errors, String("slo"), String("x"), String(""), String("")))
    assert carried(relabelled) == {"service": "shop", "events": "errors"}
