"""The dashboard of one service: a row per SLO, then thresholds, capacity, freshness.

Pure: model + plan in, JSON text out. Panels read the series the rules record (cheap, and
the same numbers the alerts see); only latency percentiles and threshold expressions read
what the spec names. Each panel's id is a hash of the stable name of what it shows
(grafana.panel_id), so adding a check leaves every other id alone, and every alert learns
which panel shows it, for its dashboard_url annotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from generator import conventions as n
from generator.dashboards import grafana as g
from generator.errors import SpecError
from generator.promql import expr as x
from generator.promql import fragments as promql
from generator.rules.render import show_level
from generator.slo.plan import SLOPlan
from generator.spec.model import SLO, Capacity, Expiry, Freshness, Level, Service, Threshold
from generator.units import format_duration, format_number, is_number

PERCENTILES = (0.5, 0.9, 0.99)
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class ServiceDashboard:
    uid: str
    text: str
    panels: dict[str, int]  # alert name -> id of the panel that shows it


@dataclass
class _Layout:
    """The dashboard being built; each panel is added under its stable name (`key`)."""

    dash: db.Dashboard
    service: Service
    ids: g.PanelIds = field(default_factory=g.PanelIds)
    alerts: dict[str, int] = field(default_factory=dict)

    def _id(self, key: str) -> int:
        try:
            return self.ids.of(key)
        except g.PanelIdCollision as exc:
            # Next to never (31 bits), and then the names are what can change.
            raise SpecError(
                [
                    self.service.origin.problem(
                        f"{exc} in the dashboard of '{self.service.name}'; rename one of "
                        "those SLOs or checks"
                    )
                ]
            ) from exc

    def row(self, key: str, title: str) -> None:
        self.dash.with_row(db.Row(title).id(self._id(key)))

    def add(self, key: str, panel: Any, height: int, width: int, *alerts: str) -> None:
        pid = self._id(key)
        self.dash.with_panel(panel.id(pid).datasource(g.DATASOURCE).height(height).span(width))
        for alert in alerts:
            self.alerts[alert] = pid


def _targets(panel: Any, queries: Sequence[prometheus.Dataquery]) -> Any:
    for ref, q in zip(_REF_IDS, queries, strict=False):
        panel = panel.with_target(q.ref_id(ref))
    return panel


def _slo_sel(metric: str, service: Service, slo: SLO, **labels: str) -> x.Selector:
    return x.sel(
        metric,
        (
            promql.Matcher(n.SERVICE_LABEL, "=", service.name),
            promql.Matcher(n.SLO_LABEL, "=", slo.name),
        ),
        **labels,
    )


def _check_sel(metric: str, service: Service, check: str) -> x.Selector:
    return x.sel(
        metric,
        (
            promql.Matcher(n.SERVICE_LABEL, "=", service.name),
            promql.Matcher(n.CHECK_LABEL, "=", check),
        ),
    )


def _groups(slo: SLO) -> str:
    """Legend prefix naming the group_by labels, so grouped series stay apart."""
    return "".join(f"{{{{{label}}}}} " for label in slo.group_by)


def _percent_decimals(objective: float) -> int:
    """Digits the objective needs in percent (99.95 -> 2)."""
    return len(format_number(objective).partition(".")[2])


def _stat(title: str, description: str, unit: str, decimals: float | None) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.VALUE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    return panel if decimals is None else panel.decimals(decimals)


def _series(title: str, description: str, unit: str, decimals: float | None) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .legend(g.legend())
        .tooltip(g.tooltip())
        .line_width(1)
        .fill_opacity(10)
    )
    return panel if decimals is None else panel.decimals(decimals)


# -- SLOs ------------------------------------------------------------------------------
def _budget_steps(slo: SLO) -> db.ThresholdsConfig:
    """Red when spent, orange below the budget-low alert, green above it."""
    low = [round(1 - b.consumed_percent / 100, 10) for b in slo.alerting.budget_alerts]
    low = [r for r in low if r > 0]
    if not low:
        return g.steps("red", (0.0, g.OK_COLOR))
    return g.steps("red", (0.0, "orange"), (max(low), g.OK_COLOR))


def _slo_row(lay: _Layout, service: Service, plan: SLOPlan) -> None:
    slo = plan.slo

    def sel(metric: str, **labels: str) -> x.Selector:
        return _slo_sel(metric, service, slo, **labels)

    grp = _groups(slo)
    period = format_duration(slo.period)
    objective = f"{format_number(slo.objective)}%"
    key = f"slo/{slo.name}"
    lay.row(key, f"SLO {slo.name}: {objective} over {period}")

    windows = sorted({*plan.fast_windows, *plan.slow_windows, slo.period})
    sli = _stat(
        "SLI by window",
        f"Share of good events over each alert window and the {period} period; "
        f"red below the objective of {objective}.",
        "percentunit",
        min(max(_percent_decimals(slo.objective) + 1, 2), 5),
    ).thresholds(g.steps("red", (slo.objective / 100, g.OK_COLOR)))
    sli = _targets(
        sli,
        [
            g.query(
                x.binary("-", 1, sel(n.error_ratio(w))), f"{grp}{format_duration(w)}", instant=True
            )
            for w in windows
        ],
    )
    lay.add(f"{key}/sli", sli, 6, 8)

    budget = f"error budget {format_number(round(100 - slo.objective, 10))}% of events"
    obj = _stat(
        "Objective",
        f"Target share of good events over {period}; {budget}.",
        "percentunit",
        _percent_decimals(slo.objective),
    )
    obj = obj.color_mode(cm.BigValueColorMode.NONE).text_mode(cm.BigValueTextMode.VALUE)
    objective_query = g.query(sel(n.OBJECTIVE), "objective", instant=True)
    lay.add(f"{key}/objective", _targets(obj, [objective_query]), 6, 3)

    remaining = _stat(
        "Error budget left",
        f"Share of the {period} error budget not yet spent; below 0 the SLO is violated.",
        "percentunit",
        1,
    ).thresholds(_budget_steps(slo))
    remaining = _targets(
        remaining, [g.query(sel(n.ERROR_BUDGET_REMAINING), f"{grp}left", instant=True)]
    )
    lay.add(f"{key}/budget-left", remaining, 6, 4)

    _tiers_panel(lay, service, plan, sel)

    trend = (
        _series(
            f"Error budget left over the {period} period",
            "How fast the budget went; budget alerts fire where the colour changes.",
            "percentunit",
            1,
        )
        .thresholds(_budget_steps(slo))
        .thresholds_style(g.threshold_lines())
        .time_from(period)
    )
    trend = _targets(trend, [g.query(sel(n.ERROR_BUDGET_REMAINING), f"{grp}left")])
    lay.add(
        f"{key}/budget-trend",
        trend,
        8,
        12,
        *(
            n.slo_alert(service.name, slo.name, w)
            for w in ("ErrorBudgetLow", "ErrorBudgetExhausted")
        ),
    )

    _burn_panel(lay, service, plan, sel)

    is_requests = slo.indicator.kind != "gauge"
    traffic = _series(
        "Requests" if is_requests else "Probe samples",
        "Events per second counted by the SLI, all and bad (the recorded 5m rates).",
        "reqps" if is_requests else "suffix: samples/s",
        2,
    )
    traffic = _targets(
        traffic,
        [
            g.query(_events(sel, n.EVENTS_TOTAL), f"{grp}all"),
            g.query(_events(sel, n.EVENTS_ERRORS), f"{grp}bad"),
        ],
    )
    latency = slo.indicator.kind == "latency"
    no_data = n.slo_alert(service.name, slo.name, "SLINoData")
    lay.add(f"{key}/traffic", traffic, 8, 12 if latency else 24, no_data)
    if slo.indicator.kind == "latency":
        ind = slo.indicator
        by = ("le", *slo.group_by)
        # The SLO's own percentile too: 95% within 300ms reads against p95.
        quantiles = sorted({*PERCENTILES, round(slo.objective / 100, 6)})
        shown = "/".join(f"p{format_number(round(q * 100, 4))}" for q in quantiles)
        pct = _series(
            "Latency percentiles",
            f"{shown} from the histogram over 5m; the SLO counts requests faster than "
            f"{show_level(ind.threshold, 'seconds')} (dashed line) as good.",
            "s",
            3,
        )
        pct = pct.thresholds(g.steps(g.OK_COLOR, (ind.threshold, "red"))).thresholds_style(
            g.threshold_lines()
        )
        bucket = x.Selector(ind.histogram.metric + "_bucket", ind.histogram.matchers, 300.0)
        rates = x.Aggregate("sum", x.Call("rate", (bucket,)), by)
        pct = _targets(
            pct,
            [
                g.query(
                    x.Call("histogram_quantile", (x.Number(q), rates)),
                    f"{grp}p{format_number(round(q * 100, 4))}",
                )
                for q in quantiles
            ],
        )
        lay.add(f"{key}/latency", pct, 8, 12)


def _tiers_panel(
    lay: _Layout, service: Service, plan: SLOPlan, sel: Callable[[str], x.Selector]
) -> None:
    """1 when a tier's condition holds now (its `for` not counted), one tile per tier."""
    slo = plan.slo
    lines = []
    queries = []
    overrides = []
    for ref, t in zip(_REF_IDS, plan.tiers, strict=False):
        tier, f = t.tier, format_number(t.factor)
        long, short = format_duration(tier.long_window), format_duration(tier.short_window)
        holds: list[x.Expr] = [
            x.Binary(">", _burn(sel, plan, w), x.Number(t.factor), bool_=True)
            for w in (tier.long_window, tier.short_window)
        ]
        guards: list[x.Expr] = []
        if slo.alerting.min_traffic:
            events = _in_window(sel, n.EVENTS_TOTAL, tier.long_window)
            guards.append(x.binary(">=", events, slo.alerting.min_traffic, bool_=True))
        guard = ""
        if t.min_failed_events > 1:  # the low-traffic guard, as the alert
            failed = x.Call("round", (_in_window(sel, n.EVENTS_ERRORS, tier.long_window),))
            guards.append(x.binary(">=", failed, t.min_failed_events, bool_=True))
            guard = f", {t.min_failed_events}+ failed"
        # The guards read events windows, which carry the `events` label the ratios do not.
        held = x.binary("*", *holds)
        for check in guards:
            held = x.Binary("*", held, check, ignoring=(n.EVENTS_LABEL,))
        queries.append(g.query(x.Aggregate("max", held), tier.key, instant=True))
        lines.append(f"{tier.key}: {long} and {short} above {f}x{guard} ({tier.severity})")
        overrides.append((ref, _fire_mappings(tier.severity)))
    panel = _stat(
        "Would fire",
        "Which burn-rate tier's condition holds now, before its `for`: "
        + "; ".join(lines or ["no tier enabled"])
        + ".",
        "none",
        0,
    ).color_mode(cm.BigValueColorMode.BACKGROUND)
    panel = panel.no_value("no data")
    for ref, mappings in overrides:
        panel = panel.override_by_query(ref, [dm.DynamicConfigValue("mappings", mappings)])
    lay.add(f"slo/{slo.name}/would-fire", _targets(panel, queries), 6, 9)


def _fire_mappings(severity: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": "quiet", "color": g.OK_COLOR, "index": 0},
                "1": {"text": "would fire", "color": g.SEVERITY_COLORS[severity], "index": 1},
            },
        }
    ]


def _events(sel: Callable[..., x.Selector], kind: str) -> x.Selector:
    """The SLO's 5m events series of one kind (total, errors)."""
    return sel(n.SLI_EVENTS, **{n.EVENTS_LABEL: kind})


def _in_window(sel: Callable[..., x.Selector], kind: str, window: float) -> x.Expr:
    """Events of one kind over a window, from the 5m rates."""
    rates = replace(_events(sel, kind), range_=window)
    return x.binary("*", x.Call("avg_over_time", (rates,)), window)


def _burn(sel: Callable[[str], x.Selector], plan: SLOPlan, window: float) -> x.Expr:
    """A window's burn rate: the rules record its error ratio, not the ratio / budget."""
    return x.binary("/", sel(n.error_ratio(window)), plan.error_budget)


def _burn_panel(
    lay: _Layout, service: Service, plan: SLOPlan, sel: Callable[[str], x.Selector]
) -> None:
    slo = plan.slo
    marks: dict[float, str] = {}
    for t in plan.tiers:  # one line per factor, in the colour of its most severe tier
        known = marks.get(t.factor)
        if known is None or SEVERITY_RANK[t.tier.severity] > SEVERITY_RANK[known]:
            marks[t.factor] = t.tier.severity
    windows = sorted({*plan.fast_windows, *plan.slow_windows})
    panel = (
        _series(
            "Burn rate by window",
            "Error ratio / error budget (1x spends the budget exactly over the period); "
            "dashed lines are the tiers' burn factors.",
            g.BURN_RATE_UNIT,
            2,
        )
        .thresholds(g.steps(g.OK_COLOR, *((f, g.SEVERITY_COLORS[s]) for f, s in marks.items())))
        .thresholds_style(g.threshold_lines())
    )
    grp = _groups(slo)
    panel = _targets(
        panel, [g.query(_burn(sel, plan, w), f"{grp}{format_duration(w)}") for w in windows]
    )
    burn = n.slo_alert(service.name, slo.name, "ErrorBudgetBurn")
    lay.add(f"slo/{slo.name}/burn-rate", panel, 8, 12, burn)


# -- thresholds, capacity, freshness ----------------------------------------------------
def _levels_text(levels: Sequence[Level], unit: str) -> str:
    return ", ".join(f"{lv.severity} {show_level(lv.value, unit)}" for lv in levels)


def _threshold_panel(lay: _Layout, service: Service, t: Threshold) -> None:
    unit, decimals = g.unit(t.unit)
    steps = g.above(t.levels) if t.direction == "above" else g.below(t.levels)
    panel = (
        _series(
            t.name,
            (f"{t.description}. " if t.description else "")
            + f"Alerts {t.direction} {_levels_text(t.levels, t.unit)} "
            f"for {format_duration(t.for_)}.",
            unit,
            decimals,
        )
        .thresholds(steps)
        .thresholds_style(g.threshold_lines())
    )
    alert = n.check_alert(service.name, t.name)
    tree = t.expr_tree if t.expr_tree is not None else t.expr
    lay.add(f"threshold/{t.name}", _targets(panel, [g.query(tree)]), 8, 12, alert)


def _capacity_panels(lay: _Layout, service: Service, c: Capacity) -> None:
    unit, decimals = g.unit(c.unit)

    def sel(metric: str) -> x.Selector:
        return _check_sel(metric, service, c.name)

    limit: x.Expr = sel(n.CAPACITY_LIMIT)
    if is_number(c.limit):
        limit = x.Call("vector", (x.Number(float(c.limit)),))
    queries = [g.query(sel(n.CAPACITY_USAGE), "usage"), g.query(limit, "limit")]
    for lv in c.headroom:
        keep = round(1 - lv.value / 100, 10)
        held = "" if lv.for_ is None else f" for {format_duration(lv.for_)}"  # its own `for`
        queries.append(
            g.query(
                x.binary("*", limit, keep),
                f"{lv.severity} floor ({format_number(lv.value)}% headroom{held})",
            )
        )
    for ex in c.exhaustion:
        legend = f"predicted in {format_duration(ex.within)}"
        if len(c.exhaustion) > 1:
            legend += f" ({ex.severity})"
        queries.append(
            g.query(
                x.Call(
                    "predict_linear",
                    (replace(sel(n.CAPACITY_USAGE), range_=ex.lookback), x.Number(ex.within)),
                ),
                legend,
            )
        )
    panel = _series(
        f"{c.name}: usage and limit",
        (f"{c.description}. " if c.description else "")
        + "Usage against its limit; the floors are where headroom alerts fire"
        + (", and the trend line is what the exhaustion alert predicts." if c.exhaustion else ".")
        + (" No headroom alert: only the exhaustion alerts." if not c.headroom else ""),
        unit,
        decimals,
    )
    for ref, lv in zip(_REF_IDS[2:], c.headroom, strict=False):
        panel = panel.override_by_query(
            ref,
            [
                dm.DynamicConfigValue(
                    "color", {"mode": "fixed", "fixedColor": g.SEVERITY_COLORS[lv.severity]}
                ),
                dm.DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            ],
        )
    predicted = n.check_alert(service.name, c.name, "ExhaustionPredicted")
    lay.add(f"capacity/{c.name}/usage", _targets(panel, queries), 8, 16, predicted)

    headroom = _stat(
        f"{c.name}: headroom",
        "Share of the limit still free"
        + (f"; alerts below {_levels_text(c.headroom, 'percent')}." if c.headroom else "."),
        "percentunit",
        1,
    ).thresholds(g.below(c.headroom, scale=0.01))
    headroom = _targets(headroom, [g.query(sel(n.CAPACITY_HEADROOM), "__auto", instant=True)])
    low = n.check_alert(service.name, c.name, "HeadroomLow")
    lay.add(f"capacity/{c.name}/headroom", headroom, 8, 8, low)


def _clock_panel(lay: _Layout, service: Service, check: Freshness | Expiry) -> None:
    """A freshness check's age, or an expiry's time left, against its levels."""
    if isinstance(check, Freshness):
        kind, what, meaning, alert = "freshness", "age", "Time since the last success", "Stale"
        metric, bound, steps = n.FRESHNESS_AGE, "above", g.above(check.levels)
    else:
        kind, what, meaning, alert = "expiry", "time left", "Time until expiry", "Expiring"
        metric, bound, steps = n.EXPIRY_REMAINING, "below", g.below(check.levels)
    panel = (
        _series(
            f"{check.name}: {what}",
            (f"{check.description}. " if check.description else "")
            + f"{meaning}; alerts {bound} {_levels_text(check.levels, 'seconds')}.",
            "s",
            0,
        )
        .thresholds(steps)
        .thresholds_style(g.threshold_lines())
    )
    panel = _targets(panel, [g.query(_check_sel(metric, service, check.name))])
    lay.add(f"{kind}/{check.name}", panel, 8, 12, n.check_alert(service.name, check.name, alert))


# -- the dashboard ----------------------------------------------------------------------
def service_dashboard(service: Service, plans: Sequence[SLOPlan]) -> ServiceDashboard:
    uid = n.dashboard_uid(service.name)
    dash = (
        db.Dashboard(f"{service.name} (promspec)")
        .uid(uid)
        .description(service.description or f"SLOs and checks of {service.name}, by promspec.")
        .tags([n.DASHBOARD_TAG, f"team:{service.team}"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(g.datasource_variable())
        .link(g.dashboard_links())
    )
    lay = _Layout(dash, service)
    for plan in plans:
        _slo_row(lay, service, plan)
    if service.thresholds:
        lay.row("thresholds", "Thresholds")
        for t in service.thresholds:
            _threshold_panel(lay, service, t)
    if service.capacity:
        lay.row("capacity", "Capacity")
        for c in service.capacity:
            _capacity_panels(lay, service, c)
    if service.freshness or service.expiry:
        lay.row("freshness-expiry", "Freshness and expiry")
        for f in service.freshness:
            _clock_panel(lay, service, f)
        for e in service.expiry:
            _clock_panel(lay, service, e)
    return ServiceDashboard(uid, g.encode(dash.build()), dict(lay.alerts))


def annotate_alerts(rules: dict[str, Any], service: Service, dash: ServiceDashboard) -> None:
    """Add dashboard_url to every alert, pointing at its panel (or the dashboard)."""
    if not service.grafana_url:
        return
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                url = n.dashboard_url(service.grafana_url, dash.uid, dash.panels.get(rule["alert"]))
                rule.setdefault("annotations", {})[n.DASHBOARD_URL_ANNOTATION] = url
