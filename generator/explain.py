"""`promspec explain`: the alert catalogue an on-call engineer reads (docs/alerts.md).

For every alert: what fires it, in plain words, how much error budget it means, and how
long it takes to fire at 100% errors and at its own threshold. Numbers come from plan.py.
"""

from __future__ import annotations

from generator import conventions, plan
from generator.model import Capacity, Level, Service
from generator.units import format_duration, format_number, human_duration

PIPE = "\\|"  # a literal | inside a Markdown table cell


def _pct(ratio: float) -> str:
    return f"{format_number(round(ratio * 100, 6))}%"


def _after(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return "immediately" if seconds <= 0 else f"after {human_duration(seconds)}"


def _by_for(c: Capacity) -> list[tuple[float, list[Level]]]:
    """The headroom levels grouped by how long each must hold, longest `for` first: one
    catalogue row when they share the check's `for`, one per `for` otherwise."""
    groups: dict[float, list[Level]] = {}
    for level in c.headroom:
        groups.setdefault(c.level_for(level), []).append(level)
    return sorted(groups.items(), key=lambda item: -item[0])


def service_markdown(service: Service, plans: list[plan.SLOPlan]) -> str:
    out = [f"## {service.name}", ""]
    if service.description:
        out += [service.description, ""]
    out += [f"Team `{service.team}`. Spec: `{service.source}`.", ""]
    for p in plans:
        slo, budget = p.slo, p.error_budget
        burn = conventions.slo_alert(service.name, slo.name, "ErrorBudgetBurn")
        out += [
            f"### SLO {slo.name}: {format_number(slo.objective)}% "
            f"over {format_duration(slo.period)}",
            "",
            f"Error budget: {_pct(budget)} of events may fail "
            f"({human_duration(budget * slo.period)} of total outage per period).",
            "",
            f"**{burn}** (one alert per tier, told apart by `burn_tier`):",
            "",
            "| burn_tier | severity | fires when the error ratio is above | over | and over | "
            "budget it means | at 100% errors | just above the threshold |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for tp in p.tiers:
            t = tp.tier
            held = f", for {format_duration(t.for_)}" if t.for_ else ""
            empty = human_duration(plan.time_to_exhaustion(tp.factor, slo.period))
            cells = [
                t.key,
                t.severity,
                f"{_pct(tp.factor * budget)} ({format_number(round(tp.factor, 4))}x the budget)",
                format_duration(t.long_window),
                f"{format_duration(t.short_window)}{held}",
                f"{format_number(t.budget_percent)}% of the budget in "
                f"{human_duration(t.long_window)}; all of it in {empty}",
                _after(tp.detection_time(1.0, budget)),
                _after(plan.slowest_detection(tp)),
            ]
            out.append("| " + " | ".join(cells) + " |")
        if slo.alerting.min_traffic:
            out += [
                "",
                f"Burn alerts need at least {slo.alerting.min_traffic} events in the long window.",
            ]
        out.append("")
        for b in slo.alerting.budget_alerts:
            what = "ErrorBudgetExhausted" if b.key == "budget_exhausted" else "ErrorBudgetLow"
            name = conventions.slo_alert(service.name, slo.name, what)
            full = plan.budget_alert_time(b.consumed_percent, 1.0, budget, slo.period, b.for_)
            out.append(
                f"- **{name}** ({b.severity}): {format_number(b.consumed_percent)}% of the "
                f"{format_duration(slo.period)} budget is spent (remaining at most "
                f"{_pct(1 - b.consumed_percent / 100)}). At 100% errors after a clean period: "
                f"{_after(full)}; at a steady burn of exactly "
                f"{format_number(b.consumed_percent / 100)}x it fires after a whole period."
            )
        if slo.alerting.no_data:
            name = conventions.slo_alert(service.name, slo.name, "SLINoData")
            out.append(
                f"- **{name}** ({slo.alerting.no_data.severity}): no SLI events recorded at all "
                f"for {human_duration(slo.alerting.no_data.for_)}; burn alerts cannot fire "
                "without data."
            )
        if slo.alerting.traffic_stopped:
            name = conventions.slo_alert(service.name, slo.name, "TrafficStopped")
            ts = slo.alerting.traffic_stopped
            out.append(
                f"- **{name}** ({ts.severity}): the SLI's series are there but count no "
                f"events: a 5m rate of 0 for {human_duration(ts.for_)} (no event for "
                f"{human_duration(ts.for_ + 300)}); burn alerts cannot see a service "
                "nobody reaches."
            )
        out.append("")
    checks = [
        *[
            (
                conventions.check_alert(service.name, t.name),
                t.for_,
                f"`{t.expr}` is {t.direction} "
                + ", ".join(f"{format_number(lv.value)} ({lv.severity})" for lv in t.levels),
            )
            for t in service.thresholds
        ],
        *[
            (
                conventions.check_alert(service.name, c.name, "HeadroomLow"),
                for_,
                "free headroom below "
                + ", ".join(f"{format_number(lv.value)}% ({lv.severity})" for lv in levels)
                + " of the limit",
            )
            for c in service.capacity
            for for_, levels in _by_for(c)
        ],
        *[
            (
                conventions.check_alert(service.name, c.name, "ExhaustionPredicted"),
                ex.for_,
                f"the linear trend over {human_duration(ex.lookback)} reaches the "
                f"limit within {human_duration(ex.within)} ({ex.severity})",
            )
            for c in service.capacity
            for ex in c.exhaustion
        ],
        *[
            (
                conventions.check_alert(service.name, f.name, "Stale"),
                f.for_,
                "the last success is older than "
                + ", ".join(f"{human_duration(lv.value)} ({lv.severity})" for lv in f.levels),
            )
            for f in service.freshness
        ],
        *[
            (
                conventions.check_alert(service.name, e.name, "Expiring"),
                e.for_,
                "less time is left than "
                + ", ".join(f"{human_duration(lv.value)} ({lv.severity})" for lv in e.levels),
            )
            for e in service.expiry
        ],
        *[
            (
                conventions.check_alert(service.name, a.name, "Absent"),
                a.for_,
                f"`{a.selector}` is "
                + ("down or not scraped" if a.target else "missing")
                + f" ({a.severity})",
            )
            for a in service.absence
        ],
    ]
    if checks:
        out += [
            "### Checks",
            "",
            "| alert | fires when | fires after the condition holds for |",
            "|---|---|---|",
        ]
        for name, for_, what in checks:
            held = human_duration(for_) if for_ else "one evaluation"
            cell = what.replace("|", PIPE)
            out.append(f"| **{name}** | {cell} | {held} |")
        out.append("")
    return "\n".join(out)


def markdown(services: list[Service], plans: dict[str, list[plan.SLOPlan]]) -> str:
    head = [
        "# Alerts",
        "",
        "Generated by `promspec explain` from the specs. DO NOT EDIT: change the spec and run "
        "`promspec explain > docs/alerts.md`.",
        "",
        "Times to fire assume a constant error ratio after a clean history, and add each "
        "alert's `for`; the rules' evaluation interval (30s, 5m for windows over 6h) and the "
        "5m rate window add up to a few minutes. A tier never fires at exactly its threshold "
        "(the comparison is strict); just above it, the long window must fill first.",
        "",
    ]
    body = [service_markdown(s, plans[s.name]) for s in services]
    return "\n".join(head + body).rstrip() + "\n"
