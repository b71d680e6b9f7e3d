"""The SLO rule groups as data: every expression built from expr nodes, none from text.

Three groups by how often they must run: slo-fast (30s: the raw series, windows up to 6h,
page tiers), slo-slow (5m: longer windows and the tiers that read them) and slo-period
(5m: the period, the error budget left, budget alerts).

Every SLO records one series family, `slo:sli_events:rate<window>`, with an `events`
label: `total` and `errors` are events per second over the window; `history` is the
share of the window that has data at all (1 once the window is full), which the error
budget left reads: missing history counts as no spend at the observed traffic. The 5m base reads
the raw counters: what each gained since 5 minutes ago (increase() where that is not
known: a new series, a reset), summed. Every longer window is the mean of back-to-back
copies of a shorter one (30m = 6 x 5m, ...): every event counted once, no lag, a few
recorded samples per evaluation. One window rule serves every SLO of the service that
builds the window alike, since their series differ by their `slo` label.

The templates lay these rules out and give the alerts their words (rules_slo.yml.j2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property

from generator import conventions as n
from generator.promql.expr import Aggregate, Binary, Call, Expr, Number, Selector, String, layout
from generator.promql.fragments import Matcher
from generator.slo.plan import (
    FAST_INTERVAL,
    PERIOD_INTERVAL,
    SLOW_INTERVAL,
    ZERO_TRAFFIC_FLOOR,
    SLOPlan,
    TierPlan,
    WindowRecipe,
)
from generator.spec.model import BudgetAlert, Service
from generator.spec.model import Selector as SpecSelector
from generator.units import format_le

BASE = n.BASE_WINDOW_SECONDS
GROUPS = ("fast", "slow", "period")
INTERVALS = {"fast": FAST_INTERVAL, "slow": SLOW_INTERVAL, "period": PERIOD_INTERVAL}


@dataclass(frozen=True)
class Rule:
    """One rule: a recording (record set) or an alert (alert set, with what its words
    need: the plan, and the tier or budget alert it fires for)."""

    expr: Expr
    record: str | None = None
    alert: str | None = None
    what: str = ""  # an alert's kind: burn, no_data, budget
    for_: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    plan: SLOPlan | None = None
    tier: TierPlan | None = None
    budget: BudgetAlert | None = None

    @cached_property  # printed once: the template and the render stage both read it
    def text(self) -> str:
        return layout(self.expr)

    @cached_property
    def shown_labels(self) -> dict[str, str]:
        """The labels the rule file states. An alert's leave out those its expression's
        result already carries with the same value (service and slo): Alertmanager sees
        the same labels either way. A recording rule states them all: promtool tells
        rules of one name apart by their stated labels (two SLOs' `history` rules would
        be duplicates to it), and tools that split groups read them."""
        if self.record:
            return self.labels
        kept = carried(self.expr)
        return {k: v for k, v in self.labels.items() if kept.get(k) != v}


@dataclass(frozen=True)
class Group:
    key: str  # fast, slow, period
    name: str
    interval: float
    rules: tuple[Rule, ...]


def events(window: float, matchers: tuple[Matcher, ...], kind: str | None = None) -> Selector:
    extra = (Matcher(n.EVENTS_LABEL, "=", kind),) if kind else ()
    return Selector(n.sli_events(window), (*matchers, *extra))


def _gain(selector: Selector) -> Expr:
    """What a counter gained over the base window, per series: now less 5m ago, or
    increase() where that is unknown (a new series) or negative (a reset)."""
    since = Binary("-", selector, replace(selector, offset=BASE))
    return Binary(
        "or", Binary(">=", since, Number(0)), Call("increase", (replace(selector, range_=BASE),))
    )


def _series(spec: SpecSelector, suffix: str = "", extra: tuple[Matcher, ...] = ()) -> Selector:
    return Selector(spec.metric + suffix, (*spec.matchers, *extra))


def _le(threshold: float) -> Matcher:
    """Match the bucket whichever way the client prints it: '1' (Go) or '1.0' (Python)."""
    text = format_le(threshold)
    if "." in text or "e" in text:
        return Matcher("le", "=", text)
    return Matcher("le", "=~", f"{text}|{text}\\.0")


class _Builder:
    def __init__(self, service: Service, plans: list[SLOPlan]) -> None:
        self.service = service
        self.plans = plans

    def own(self, plan: SLOPlan) -> tuple[Matcher, ...]:
        return (
            Matcher(n.SERVICE_LABEL, "=", self.service.name),
            Matcher(n.SLO_LABEL, "=", plan.slo.name),
        )

    def slo_labels(self, plan: SLOPlan, **extra: str) -> dict[str, str]:
        return {n.SERVICE_LABEL: self.service.name, n.SLO_LABEL: plan.slo.name, **extra}

    def alert_labels(self, severity: str, **extra: str) -> dict[str, str]:
        s = self.service
        return {
            **dict(s.labels),
            **extra,
            n.SEVERITY_LABEL: severity,
            n.SERVICE_LABEL: s.name,
            n.TEAM_LABEL: s.team,
        }

    # -- the 5m base, per SLO --------------------------------------------------------
    def base(self, plan: SLOPlan) -> list[Rule]:
        slo, ind = plan.slo, plan.slo.indicator
        g = slo.group_by

        def summed(x: Expr) -> Expr:
            return Binary("/", Aggregate("sum", x, g or None), Number(BASE))

        if ind.kind == "ratio":
            total: Expr = summed(_gain(_series(ind.total)))
        elif ind.kind == "latency":
            total = summed(_gain(_series(ind.histogram, "_count")))
        else:
            total = summed(Call("count_over_time", (replace(_series(ind.metric), range_=BASE),)))
        recorded_total = events(BASE, self.own(plan), n.EVENTS_TOTAL)
        none = Binary("*", Number(0), recorded_total)
        if ind.kind == "ratio" and ind.errors:
            # No error series yet means no errors, not no data.
            errors = Binary("or", summed(_gain(_series(ind.errors))), none, on=g)
        else:
            good: Expr
            if ind.kind == "ratio":
                assert ind.good is not None
                good = Binary("or", summed(_gain(_series(ind.good))), none, on=g)
            elif ind.kind == "latency":
                bucket = _series(ind.histogram, "_bucket", (_le(ind.threshold),))
                good = Binary("or", summed(_gain(bucket)), none, on=g)
            else:
                good = summed(Call("sum_over_time", (replace(_series(ind.metric), range_=BASE),)))
            # No good series yet means every event failed.
            errors = Binary("-", recorded_total, good, on=g)
        history = Binary("+", Binary("*", Number(0), recorded_total), Number(1))
        name = n.sli_events(BASE)
        return [
            Rule(total, record=name, labels=self.slo_labels(plan, events=n.EVENTS_TOTAL)),
            Rule(errors, record=name, labels=self.slo_labels(plan, events=n.EVENTS_ERRORS)),
            Rule(history, record=name, labels=self.slo_labels(plan, events=n.EVENTS_HISTORY)),
        ]

    # -- windows and ratios, per service ------------------------------------------------
    def windows(self, group: str) -> list[Rule]:
        """The group's window rules, shortest window first, then its error ratios.

        A window is recorded once per service, in the most frequent group any of its
        SLOs needs it in (the period group reads the slow group's series either way)."""
        Key = tuple[float, WindowRecipe | None, bool]
        wanted: dict[Key, list[SLOPlan]] = {}
        placed: dict[Key, int] = {}

        def want(key: Key, where: str, plan: SLOPlan) -> None:
            wanted.setdefault(key, []).append(plan)
            placed[key] = min(placed.get(key, len(GROUPS)), GROUPS.index(where))

        for plan in self.plans:
            for where in GROUPS:
                for recipe in plan.recipes_in(where):
                    want((recipe.window, recipe, False), where, plan)
            for where, ws in (
                ("fast", plan.fast_windows),
                ("slow", plan.slow_windows),
                ("period", (plan.period_window,) if plan.period_window else ()),
            ):
                for w in ws:
                    built = None if w == BASE else plan.recipe(w)
                    want((w, built, True), where, plan)
        ways: dict[tuple[float, bool], int] = {}
        for window, _, ratio in wanted:
            ways[(window, ratio)] = ways.get((window, ratio), 0) + 1
        everyone = {p.slo.name for p in self.plans}
        service = Matcher(n.SERVICE_LABEL, "=", self.service.name)
        rules = []
        for key in sorted(wanted, key=lambda k: (k[2], k[0], repr(k[1]))):
            if GROUPS[placed[key]] != group:
                continue
            window, how, ratio = key
            plans = wanted[key]
            if ways[(window, ratio)] > 1:
                # SLOs build this window differently: a rule each, told apart by labels.
                for plan in plans:
                    rules.append(self.window(window, how, ratio, self.own(plan), plan))
                continue
            names = sorted({p.slo.name for p in plans})
            matchers: tuple[Matcher, ...] = (service,)
            if len(names) == 1 and len(everyone) > 1:
                matchers += (Matcher(n.SLO_LABEL, "=", names[0]),)
            elif set(names) != everyone:
                regex = "|".join(re.escape(name) for name in names)
                matchers += (Matcher(n.SLO_LABEL, "=~", regex),)
            rules.append(self.window(window, how, ratio, matchers, None))
        return rules

    def window(
        self,
        window: float,
        recipe: WindowRecipe | None,
        ratio: bool,
        matchers: tuple[Matcher, ...],
        plan: SLOPlan | None,
    ) -> Rule:
        labels = self.slo_labels(plan) if plan else {}
        if not ratio:
            assert recipe is not None
            return Rule(copies(recipe, matchers), record=n.sli_events(window), labels=labels)
        floor = Number(ZERO_TRAFFIC_FLOOR)
        if window == BASE or recipe is not None:
            errors: Expr = events(window, matchers, n.EVENTS_ERRORS)
            total: Expr = events(window, matchers, n.EVENTS_TOTAL)
        else:
            # No chain of copies builds it: summed over the base rates (soft edges).
            errors = Call(
                "sum_over_time", (replace(events(BASE, matchers, n.EVENTS_ERRORS), range_=window),)
            )
            total = Call(
                "sum_over_time", (replace(events(BASE, matchers, n.EVENTS_TOTAL), range_=window),)
            )
        expr = Binary("/", errors, Call("clamp_min", (total, floor)), ignoring=(n.EVENTS_LABEL,))
        return Rule(expr, record=n.error_ratio(window), labels=labels)

    # -- alerts, per SLO ------------------------------------------------------------------
    def burn(self, plan: SLOPlan, window: float) -> Expr:
        """A window's burn rate: its error ratio over the budget, not recorded (a
        division by a constant costs less than a series)."""
        ratio = Selector(n.error_ratio(window), self.own(plan))
        return Binary("/", ratio, Number(plan.error_budget))

    def traffic(self, plan: SLOPlan, window: float, kind: str = n.EVENTS_TOTAL) -> Expr:
        """Events (or failed events) in the window: its recorded rate times its length."""
        if plan.recipe(window) is not None:
            rate: Expr = events(window, self.own(plan), kind)
        else:
            base = replace(events(BASE, self.own(plan), kind), range_=window)
            rate = Call("avg_over_time", (base,))
        return Binary("*", rate, Number(window))

    def tier_alerts(self, plan: SLOPlan, windows: tuple[float, ...]) -> list[Rule]:
        rules = []
        for tp in plan.tiers_in(windows):
            tier = tp.tier
            expr: Expr = Binary(
                "and",
                Binary(">", self.burn(plan, tier.long_window), Number(tp.factor)),
                Binary(">", self.burn(plan, tier.short_window), Number(tp.factor)),
            )
            if plan.slo.alerting.min_traffic:
                enough = Binary(
                    ">=",
                    self.traffic(plan, tier.long_window),
                    Number(plan.slo.alerting.min_traffic),
                )
                expr = Binary("and", expr, enough, ignoring=(n.EVENTS_LABEL,))
            if tp.min_failed_events > 1:
                # The low-traffic guard. The window is a sum of 5m gains over a constant,
                # a whole number up to float noise (increase() may extrapolate a fraction):
                # round() keeps 1.9999999 from reading as fewer than 2 failures.
                failed = Call("round", (self.traffic(plan, tier.long_window, n.EVENTS_ERRORS),))
                guard = Binary(">=", failed, Number(tp.min_failed_events))
                expr = Binary("and", expr, guard, ignoring=(n.EVENTS_LABEL,))
            labels = self.alert_labels(
                tier.severity, **{n.SLO_LABEL: plan.slo.name, n.BURN_TIER_LABEL: tier.key}
            )
            alert = n.slo_alert(self.service.name, plan.slo.name, "ErrorBudgetBurn")
            rules.append(
                Rule(
                    expr,
                    alert=alert,
                    what="burn",
                    for_=tier.for_,
                    labels=labels,
                    plan=plan,
                    tier=tp,
                )
            )
        return rules

    def no_data(self, plan: SLOPlan) -> list[Rule]:
        nd = plan.slo.alerting.no_data
        if not nd:
            return []
        # All three series of the SLO come and go with its total (absent() would copy
        # an events matcher into the alert's labels).
        expr = Call("absent", (events(BASE, self.own(plan)),))
        labels = self.alert_labels(nd.severity, **{n.SLO_LABEL: plan.slo.name})
        alert = n.slo_alert(self.service.name, plan.slo.name, "SLINoData")
        return [Rule(expr, alert=alert, what="no_data", for_=nd.for_, labels=labels, plan=plan)]

    def traffic_stopped(self, plan: SLOPlan) -> list[Rule]:
        """The SLI's series exist but count no events: a 5m total rate of 0 for `for`."""
        ts = plan.slo.alerting.traffic_stopped
        if not ts:
            return []
        total = events(BASE, self.own(plan), n.EVENTS_TOTAL)
        # Summed without the events label, which the alert must not carry.
        expr = Binary("==", Aggregate("sum", total, (n.EVENTS_LABEL,), without=True), Number(0))
        labels = self.alert_labels(ts.severity, **{n.SLO_LABEL: plan.slo.name})
        alert = n.slo_alert(self.service.name, plan.slo.name, "TrafficStopped")
        return [
            Rule(expr, alert=alert, what="traffic_stopped", for_=ts.for_, labels=labels, plan=plan)
        ]

    def budget(self, plan: SLOPlan) -> list[Rule]:
        """The budget left counts the whole period: missing history is no spend at the
        observed traffic, so a few hours of history never spend a month's budget."""
        slo, own = plan.slo, self.own(plan)
        ratio = Selector(n.error_ratio(slo.period), own)
        spent: Expr = Binary("/", ratio, Number(plan.error_budget))
        if plan.recipe(slo.period) is not None:
            # ratio x history: the errors over the errors that the whole period's traffic
            # would allow, the traffic of the missing part taken as that of the rest.
            history = events(slo.period, own, n.EVENTS_HISTORY)
            spent = Binary(
                "/",
                Binary("*", ratio, history, ignoring=(n.EVENTS_LABEL,)),
                Number(plan.error_budget),
            )
        # (A period no chain of copies builds is summed over the base rates; its history
        # is taken as full: the ratio of the history alone.)
        rules = [
            Rule(
                Call("vector", (Number(round(slo.objective / 100, 12)),)),
                record=n.OBJECTIVE,
                labels=self.slo_labels(plan),
            ),
            Rule(
                Call("vector", (Number(plan.error_budget),)),
                record=n.ERROR_BUDGET,
                labels=self.slo_labels(plan),
            ),
        ]
        remaining = Rule(
            Binary("-", Number(1), spent),
            record=n.ERROR_BUDGET_REMAINING,
            labels=self.slo_labels(plan),
        )
        alerts = []
        for b in slo.alerting.budget_alerts:
            what = "ErrorBudgetExhausted" if b.key == "budget_exhausted" else "ErrorBudgetLow"
            level = Number(round(1 - b.consumed_percent / 100, 12))
            expr = Binary("<=", Selector(n.ERROR_BUDGET_REMAINING, own), level)
            labels = self.alert_labels(b.severity, **{n.SLO_LABEL: slo.name})
            name = n.slo_alert(self.service.name, slo.name, what)
            alerts.append(
                Rule(
                    expr, alert=name, what="budget", for_=b.for_, labels=labels, plan=plan, budget=b
                )
            )
        return [*rules, remaining, *alerts]


def carried(node: Expr) -> dict[str, str]:
    """Labels every series of the expression's result has, with the value known from its
    equality matchers; {} where that is not known. Follows Prometheus: a vector operation
    keeps the left-hand side's labels (less `ignoring`, only `on` for arithmetic and
    comparisons), aggregations keep their `by` labels, absent() its equality matchers."""
    if isinstance(node, Selector):
        return {m.name: m.value for m in node.matchers if m.op == "="}
    if isinstance(node, Aggregate):
        inner = carried(node.expr)
        if node.labels is None:
            return {}
        if node.without:
            return {k: v for k, v in inner.items() if k not in node.labels}
        return {k: v for k, v in inner.items() if k in node.labels}
    if isinstance(node, Call):
        if node.func in ("absent", "clamp_min", "clamp_max", "round", "abs") and node.args:
            return carried(node.args[0])
        if node.func == "label_replace" and isinstance(node.args[1], String):
            return {k: v for k, v in carried(node.args[0]).items() if k != node.args[1].value}
        return {}
    if isinstance(node, Binary):
        left, right = isinstance(node.lhs, Number), isinstance(node.rhs, Number)
        if left and right:
            return {}
        if left or right:  # a scalar side: the vector's labels
            return carried(node.rhs if left else node.lhs)
        lhs = carried(node.lhs)
        if node.op in ("and", "unless"):
            return lhs
        if node.op == "or":  # either side's series
            rhs = carried(node.rhs)
            return {k: v for k, v in lhs.items() if rhs.get(k) == v}
        if node.group:
            return {}
        if node.on is not None:
            return {k: v for k, v in lhs.items() if k in node.on}
        return {k: v for k, v in lhs.items() if k not in (node.ignoring or ())}
    return {}


def copies(recipe: WindowRecipe, matchers: tuple[Matcher, ...]) -> Expr:
    """The mean of the recipe's back-to-back copies of its source window. Copies 1.. carry
    a piece label, so `or` keeps them apart until they are summed; a copy missing (no
    data then, or not yet) adds nothing, as a gap in a sum would."""
    source = events(recipe.source, matchers)
    pieces: Expr = source
    for i, offset in enumerate(recipe.offsets[1:], 1):
        shifted = replace(source, offset=offset)
        piece = Call(
            "label_replace",
            (shifted, String(n.PIECE_LABEL), String(str(i)), String(""), String("")),
        )
        pieces = Binary("or", pieces, piece)
    summed = Aggregate("sum", pieces, (n.PIECE_LABEL,), without=True)
    return Binary("/", summed, Number(recipe.pieces))


def groups(service: Service, plans: list[SLOPlan]) -> list[Group]:
    """The SLO rule groups of a service (none without SLOs)."""
    if not plans:
        return []
    b = _Builder(service, plans)
    fast = [r for p in plans for r in b.base(p)] + b.windows("fast")
    for p in plans:
        fast += b.tier_alerts(p, p.fast_windows) + b.no_data(p) + b.traffic_stopped(p)
    slow = b.windows("slow")
    for p in plans:
        slow += b.tier_alerts(p, p.slow_windows)
    period = [r for p in plans for r in b.budget(p)[:2]] + b.windows("period")
    for p in plans:
        period += b.budget(p)[2:]
    out = [Group("fast", n.group_name(service.name, "slo-fast"), FAST_INTERVAL, tuple(fast))]
    if slow:
        out.append(
            Group("slow", n.group_name(service.name, "slo-slow"), SLOW_INTERVAL, tuple(slow))
        )
    out.append(
        Group("period", n.group_name(service.name, "slo-period"), PERIOD_INTERVAL, tuple(period))
    )
    return out
