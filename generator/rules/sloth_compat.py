"""compat.sloth: the series and labels Sloth's Grafana dashboards read, as data.

Each is recorded from promspec's own recorded series (never the raw ones), carries
sloth_service, sloth_slo and sloth_id, and drops service and slo, so that promspec's
selectors ({service=..., slo=...}) never match these copies. templates/rules_sloth.yml.j2
lays the group out.
"""

from __future__ import annotations

from generator import conventions as n
from generator.promql.expr import Aggregate, Binary, Call, Expr, Number, Selector
from generator.promql.fragments import Matcher
from generator.rules.slo import Group, Rule
from generator.slo.plan import FAST_INTERVAL, SLOPlan
from generator.spec.model import Service
from generator.units import format_duration, format_number

_KEYS = (n.SERVICE_LABEL, n.SLO_LABEL)


def group(service: Service, plans: list[SLOPlan]) -> Group:
    """The service's Sloth-named copies, one run of rules per SLO."""
    rules = [r for plan in plans for r in _rules(service, plan)]
    return Group("sloth", n.group_name(service.name, "sloth"), FAST_INTERVAL, tuple(rules))


def _rules(service: Service, plan: SLOPlan) -> list[Rule]:
    slo = plan.slo
    ids = {
        n.SLOTH_SERVICE_LABEL: service.name,
        n.SLOTH_SLO_LABEL: slo.name,
        n.SLOTH_ID_LABEL: n.sloth_id(service.name, slo.name),
    }
    own = (Matcher(n.SERVICE_LABEL, "=", service.name), Matcher(n.SLO_LABEL, "=", slo.name))

    def sel(metric: str) -> Selector:
        return Selector(metric, own)

    def copy(node: Expr) -> Expr:
        return Aggregate("max", node, labels=_KEYS, without=True)

    def burn(metric: str) -> Expr:
        budget = sel(n.ERROR_BUDGET)
        return copy(Binary("/", sel(metric), budget, on=_KEYS, group="group_left"))

    tiers = slo.alerting.tiers
    windows = sorted(
        {*(t.long_window for t in tiers), *(t.short_window for t in tiers), slo.period}
    )
    out = [
        Rule(copy(sel(n.error_ratio(w))), record=n.error_ratio(w), labels=_window(ids, w))
        for w in windows
    ]
    days = Call("vector", (Number(round(slo.period / 86400, 6)),))
    info = {**ids, n.SLOTH_OBJECTIVE_LABEL: format_number(slo.objective)}
    out += [
        Rule(copy(sel(n.OBJECTIVE)), record=n.OBJECTIVE, labels=ids),
        Rule(copy(sel(n.ERROR_BUDGET)), record=n.ERROR_BUDGET, labels=ids),
        Rule(days, record=n.SLOTH_TIME_PERIOD_DAYS, labels=ids),
        Rule(burn(n.error_ratio(windows[0])), record=n.SLOTH_CURRENT_BURN_RATE, labels=ids),
        Rule(burn(n.error_ratio(slo.period)), record=n.SLOTH_PERIOD_BURN_RATE, labels=ids),
        Rule(
            copy(sel(n.ERROR_BUDGET_REMAINING)),
            record=n.SLOTH_PERIOD_BUDGET_REMAINING,
            labels=ids,
        ),
        Rule(Call("vector", (Number(1),)), record=n.SLOTH_INFO, labels=info),
    ]
    return out


def _window(ids: dict[str, str], window: float) -> dict[str, str]:
    return {**ids, n.SLOTH_WINDOW_LABEL: format_duration(window)}
