"""`promspec explain`: the alert catalogue an on-call engineer reads (docs/alerts.md).

For every alert: what fires it, in plain words, how much error budget it means, and how
long it takes to fire at 100% errors and at its own threshold. Numbers come from
generator/slo/plan.py.
"""

from __future__ import annotations

from generator import conventions
from generator.slo import plan
from generator.spec import inherit
from generator.spec.model import Capacity, Level, Service
from generator.units import format_duration, format_number, human_duration, parse_duration

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


def _seconds(seconds: float) -> str:
    """To the second, even under a minute: 51.84 -> '52 seconds', 82 -> '1 minute 22 seconds'."""
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    if whole >= 3600 or not minutes:
        return human_duration(whole)
    text = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return text + (f" {rest} second{'s' if rest != 1 else ''}" if rest else "")


def evaluation_interval(long_window: float) -> float:
    """How often a tier with this long window is evaluated (its windows' rule group)."""
    return plan.FAST_INTERVAL if long_window <= plan.FAST_WINDOW_LIMIT else plan.SLOW_INTERVAL


def _at_outage(tp: plan.TierPlan, budget: float) -> str:
    """The math's time at 100% errors, and the evaluation by which the tier fires."""
    detect = tp.detection_time(1.0, budget)
    if detect is None:
        return "never"
    by = detect + evaluation_interval(tp.tier.long_window)
    return f"after {_seconds(detect)}, firing by {_seconds(by)}"


def _per_minute(rate: float) -> str:
    """Events per second as events a minute, to 3 significant digits."""
    per_minute = float(f"{rate * 60:.3g}")
    return "one event" if per_minute == 1 else f"{format_number(per_minute)} events"


def _guard(p: plan.SLOPlan) -> list[str]:
    """The low-traffic guard of an SLO's tiers, and what it gives at low traffic."""
    guarded = [tp for tp in p.tiers if tp.min_failed_events > 1]
    if not guarded:
        why = " (a gauge SLI counts samples)" if p.slo.indicator.kind == "gauge" else ""
        return [f"Low-traffic guard: none{why}."]
    each = ", ".join(f"{tp.tier.key} {tp.min_failed_events}" for tp in guarded)
    text = f"Low-traffic guard: at least {each} failed events in the long window."
    below = plan.one_failure_pages_below(p)
    pages = [tp for tp in plan.page_tiers(p) if tp.min_failed_events > 1]
    if below is not None and pages:
        text += (
            f" Below {_per_minute(below)} a minute one failure alone is a burn above every "
            "page tier's factor: the guard keeps it from paging."
        )
        rate = plan.low_traffic(p) or plan.GUARD_REFERENCE_RATE
        first, detect = plan.outage_page(pages, p.error_budget, rate)
        if first is not None and detect is not None:
            alone = first.detection_time(1.0, p.error_budget)
            assert alone is not None
            text += (
                f" A total outage at {_per_minute(rate)} a minute pages ({first.tier.key}) "
                f"after {_seconds(detect)} (the error ratio alone: {_seconds(alone)})."
            )
    return [text]


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
                _at_outage(tp, budget),
                _after(plan.slowest_detection(tp)),
            ]
            out.append("| " + " | ".join(cells) + " |")
        if slo.alerting.min_traffic:
            out += [
                "",
                f"Burn alerts need at least {slo.alerting.min_traffic} events in the long window.",
            ]
        out += ["", *_guard(p)]
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


# Why each built-in burn tier has the `for` it has (inherit.BUILTIN), for the catalogue.
TIER_FOR_REASONS = {
    "page_fast": "the 5m short window is the reset guard (SRE workbook, Sloth); a `for` "
    "would add its whole length to every page",
    "page_slow": "the 30m short window is the reset guard; a `for` would only delay the page",
    "ticket_fast": "the 2h short window already confirms the burn goes on; a `for` only "
    "delays a ticket that is raised anyway, and restarts whenever one evaluation dips "
    "below the line",
    "ticket_slow": "the 6h short window already confirms the burn goes on; a `for` only "
    "delays the ticket",
}
REFERENCE_OBJECTIVE, REFERENCE_PERIOD = 99.9, 30 * 86400.0


def tier_defaults() -> list[str]:
    """The built-in tiers' `for`, why, and what they give on a 99.9%/30d SLO at 100% errors."""
    budget = 1 - REFERENCE_OBJECTIVE / 100
    rows = [
        "| burn_tier | default `for` | why | evaluated every | 99.9%/30d at 100% errors |",
        "|---|---|---|---|---|",
    ]
    for key, tier in inherit.BUILTIN["slo"]["alerting"].items():
        if key not in TIER_FOR_REASONS:
            continue
        long_window = parse_duration(tier["long_window"])
        for_ = parse_duration(tier["for"])
        factor = plan.burn_factor(tier["budget_percent"], REFERENCE_PERIOD, long_window)
        detect = long_window * factor * budget + for_
        every = evaluation_interval(long_window)
        rows.append(
            f"| {key} | {format_duration(for_) if for_ else 'none (0s)'} | "
            f"{TIER_FOR_REASONS[key]} | {format_duration(every)} | "
            f"{format_duration(long_window)} x {format_number(factor)} x 0.1% = "
            f"{_seconds(detect)} of failures; fires by {_seconds(detect + every)} |"
        )
    return rows


GUARD_OBJECTIVES = (99.99, 99.95, 99.9, 99.5, 99.0, 95.0)


def guard_defaults() -> list[str]:
    """The default min_failed_events of the built-in tiers (30d) at a few objectives."""
    tiers = {k: t for k, t in inherit.BUILTIN["slo"]["alerting"].items() if k in TIER_FOR_REASONS}
    rows = [
        "| objective | " + " | ".join(tiers) + " |",
        "|---|" + "---|" * len(tiers),
    ]
    for objective in GUARD_OBJECTIVES:
        budget = round(1 - objective / 100, 12)
        cells = []
        for tier in tiers.values():
            long_window = parse_duration(tier["long_window"])
            factor = plan.burn_factor(tier["budget_percent"], REFERENCE_PERIOD, long_window)
            if factor * budget >= 1 - 1e-9:
                cells.append("(cannot fire)")
                continue
            cells.append(str(plan.default_min_failed_events(factor, budget, long_window)))
        rows.append(f"| {format_number(objective)}% | " + " | ".join(cells) + " |")
    return rows


GUARD_TEXT = [
    "## Low-traffic guard: failed events per tier",
    "",
    "At low traffic one failure is a large error ratio: at 99.99% and 2 requests a minute, "
    "one failure among the 120 of an hour is a burn of 83x, above every tier's factor. A "
    "minimum of total events (`min_traffic`) high enough to silence that also silences an "
    "outage at that traffic. So each tier also needs `min_failed_events` failed events in "
    "its long window: `and ignoring (events) round(<failed events a second over the "
    "window> * <window>) >= k`, round() because the windows are sums of 5m gains over "
    "constants, a whole number up to float noise. One failure is 1 < k; an outage at 2 a "
    "minute brings 2 failures a minute.",
    "",
    "Default: the failures the tier's factor needs at one event a minute, at least 2: "
    "k = max(2, ceil(factor x (1 - objective) x long window in minutes)). Below one event "
    "a minute a tier needs as many failures as at one event a minute, and one failure never "
    "pages. Above it a burn at the factor already brings the ceil() part, so that never "
    "binds; the floor of 2, where it is above that (high objectives), binds only up to "
    "2 / (factor x (1 - objective) x long window) events a minute (99.99% page_fast: 23), "
    "where such a burn is fewer than 2 failures in the window. Detection at normal traffic "
    "is unchanged: page_fast still pages a 100% outage at 100 requests a second on 99.9% "
    "within 90 seconds. A spec or `_defaults.yaml` sets it per tier; 1 turns it off. "
    "Built-in tiers, 30d:",
    "",
]
GUARD_TAIL = [
    "",
    "Detection at low traffic: a total outage at r events a minute pages after k / r "
    "minutes, or the error ratio's time if that is later: at 99.99% and 2 a minute, "
    "page_fast after 1 minute; at 99.9% and one event every 5 minutes, after 10. Each SLO "
    "below gives its numbers. `promspec test` proves both sides at half the traffic below "
    "which one failure alone is above every page tier's factor (in whole events a minute, "
    "or one event every 2 to 5 minutes), where an outage there pages within 10 minutes "
    "(99.9% and above with the built-in tiers): one failed event fires no tier at any "
    "evaluation where one would fire without the guard, and a total outage pages at the "
    "tick the math says, silent one evaluation before.",
    "",
    "Gauge SLIs get no default guard (a change to the team's design, for these reasons): "
    "a gauge SLI's events are its samples, whose rate the scrape interval sets, not the "
    "traffic; a sample may fail in part (a probe's success share), so its failed events "
    "are a sum of fractions; and the proofs time a gauge's burns with fractional samples "
    "once a minute, where a guard of 2 would hide them. Set `min_failed_events` on a gauge "
    "SLI's tiers to guard it (a 0/1 probe scraped once a minute on 99.9%: one failed probe "
    "is 1.7% of an hour, above page_fast's 1.44%); where the guard binds at the proofs' "
    "traffic, that SLI is listed as not proven, with the reason.",
    "",
]


def markdown(services: list[Service], plans: dict[str, list[plan.SLOPlan]]) -> str:
    head = [
        "# Alerts",
        "",
        "Generated by `promspec explain` from the specs. DO NOT EDIT: change the spec and run "
        "`promspec explain > docs/alerts.md`.",
        "",
        "Times to fire assume a constant error ratio after a clean history, counted from the "
        "first failed event. A burn tier's long window crosses its factor after long window x "
        "factor x error budget / error ratio (the short window, being shorter, is there "
        "first), plus the tier's `for`; budget alerts add theirs. The alert fires at the "
        "first evaluation that reads a scrape past that point: up to one scrape interval "
        'and one evaluation interval later (30s for windows up to 6h, 5m beyond; "firing '
        'by" adds the evaluation interval). The windows count exactly what the counters '
        "gained, with no ramp. A tier never fires at exactly its threshold (the comparison "
        "is strict); just above it, the long window must fill first.",
        "",
        "## Burn tiers: no `for` by default",
        "",
        "The short window is the reset guard: while the burn goes on it stays above the "
        "line with the long window, and once the burn stops it falls below within its "
        "length (5m for page_fast), so the alert resolves instead of firing on for the rest "
        "of the long window. A `for` on top delays every alert by its whole length, and "
        "what it could suppress (a condition true for less than the `for`) is a burn that "
        "has already spent the tier's share of the budget (2% in 1h for page_fast): a real "
        "alert. So no built-in tier has one, as in the SRE workbook and Sloth; a spec may "
        'still set one per tier, and the tables below show it under "and over".',
        "",
        *tier_defaults(),
        "",
        "Counted from the first scrape that shows failures (the worst case: the outage "
        "began just before it): at 100% errors on 99.9%/30d page_fast needs 52 seconds of "
        "failures. The first scrape that holds them comes at most a minute after the first "
        "failed one at any scrape interval that divides a minute (15s, 30s, 1m, ...), and "
        "the fast group's next evaluation, under 30s later, reads it: page_fast pages "
        "within 90 seconds of the first failed scrape. tests/test_page_timing.py proves it "
        "with promtool at several scrape intervals and phases, tests/test_e2e.py on a real "
        "Prometheus.",
        "",
        *GUARD_TEXT,
        *guard_defaults(),
        *GUARD_TAIL,
    ]
    body = [service_markdown(s, plans[s.name]) for s in services]
    return "\n".join(head + body).rstrip() + "\n"
