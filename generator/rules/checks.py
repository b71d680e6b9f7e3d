"""The rule groups of the non-SLO checks as data: thresholds, capacity, freshness and
expiry, absence.

Every expression is built from expr nodes; the user's own PromQL (a threshold's
expression, a capacity's usage and limit, a timestamp, an absence selector) goes in as
the tree the spec stage parsed, never as text. The templates (rules_thresholds.yml.j2,
rules_capacity.yml.j2, rules_freshness.yml.j2, rules_absence.yml.j2) lay these rules out
and word the alerts.

  thresholds: `<expr> > <level>` (`<` for direction: below), one rule per level;
  capacity: usage and limit recorded once, headroom = 1 - usage / limit (a limit series
    only where it is above 0), an alert per headroom floor, and predict_linear over the
    recorded usage per exhaustion level (the same series the dashboards show);
  freshness: the age of a last-success timestamp, time() - ts; expiry: ts - time();
  absence: absent(selector), and for a scrape target also `up == 0`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from generator import conventions as n
from generator.promql.expr import Binary, Call, Expr, Number, Selector, layout
from generator.promql.fragments import Matcher
from generator.spec.model import (
    Absence,
    Capacity,
    Check,
    Exhaustion,
    Expiry,
    Freshness,
    Level,
    Service,
    Threshold,
)

# The groups, in the order the rule file holds them; the key is also the name suffix.
KINDS = ("thresholds", "capacity", "freshness", "absence")


@dataclass(frozen=True)
class Rule:
    """One rule of a check: a recording (record set) or an alert (alert set, with what
    its words need: the kind of alert and the level it fires at)."""

    expr: Expr
    check: Check
    record: str | None = None
    alert: str | None = None
    # threshold, headroom, exhaustion, stale, expiring, absent
    what: str = ""
    for_: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    level: Level | Exhaustion | None = None

    @cached_property  # printed once: the template and the render stage both read it
    def text(self) -> str:
        return layout(self.expr)

    @property
    def shown_labels(self) -> dict[str, str]:
        """The labels the rule file states (macros.j2's add_rule): all of them. The
        spec's own PromQL may aggregate the check's labels away, so none is assumed
        carried, unlike the SLO rules whose selectors are ours."""
        return self.labels


@dataclass(frozen=True)
class Group:
    key: str  # one of KINDS
    name: str
    rules: tuple[Rule, ...]


def _tree(node: Expr | None) -> Expr:
    assert node is not None, "the spec stage parses every check expression"
    return node


class _Builder:
    def __init__(self, service: Service) -> None:
        self.service = service

    def own(self, check: Check) -> dict[str, str]:
        """The labels of a check's recorded series."""
        return {n.SERVICE_LABEL: self.service.name, n.CHECK_LABEL: check.name}

    def recorded(self, metric: str, check: Check) -> Selector:
        """A series a check records, selected by its own labels."""
        return Selector(metric, tuple(Matcher(k, "=", v) for k, v in self.own(check).items()))

    def alert_labels(
        self, check: Check, severity: str, level: tuple[tuple[str, str], ...] = ()
    ) -> dict[str, str]:
        """The service's labels, the check's, the level's own, then ours (never
        overridden: the schema reserves them)."""
        s = self.service
        return {
            **dict(s.labels),
            **dict(check.labels),
            **dict(level),
            n.SEVERITY_LABEL: severity,
            n.SERVICE_LABEL: s.name,
            n.TEAM_LABEL: s.team,
        }

    def levels(
        self, check: Check, alert: str, what: str, lhs: Expr, op: str, levels: tuple[Level, ...]
    ) -> list[Rule]:
        """One alert per level: `lhs op level`, each with its severity."""
        return [
            Rule(
                Binary(op, lhs, Number(level.value)),
                check,
                alert=alert,
                what=what,
                for_=check.for_,
                labels=self.alert_labels(check, level.severity, level.labels),
                level=level,
            )
            for level in levels
        ]

    def threshold(self, t: Threshold) -> list[Rule]:
        alert = n.check_alert(self.service.name, t.name)
        op = ">" if t.direction == "above" else "<"
        return self.levels(t, alert, "threshold", _tree(t.expr_tree), op, t.levels)

    def capacity(self, c: Capacity) -> list[Rule]:
        labels = self.own(c)
        usage = self.recorded(n.CAPACITY_USAGE, c)
        rules = [Rule(_tree(c.usage_tree), c, record=n.CAPACITY_USAGE, labels=labels)]
        limit = _tree(c.limit_tree)
        divisor: Expr = limit
        if not isinstance(limit, Number):
            rules.append(Rule(limit, c, record=n.CAPACITY_LIMIT, labels=labels))
            limit = self.recorded(n.CAPACITY_LIMIT, c)
            # A limit of 0 (not yet reported) is no limit, not an infinite usage.
            divisor = Binary(">", limit, Number(0))
        headroom = Binary("-", Number(1), Binary("/", usage, divisor))
        rules.append(Rule(headroom, c, record=n.CAPACITY_HEADROOM, labels=labels))
        low = n.check_alert(self.service.name, c.name, "HeadroomLow")
        for level in c.headroom:
            floor = Number(round(level.value / 100, 12))  # a percentage of the limit
            expr = Binary("<", self.recorded(n.CAPACITY_HEADROOM, c), floor)
            rules.append(
                Rule(
                    expr,
                    c,
                    alert=low,
                    what="headroom",
                    for_=c.level_for(level),
                    labels=self.alert_labels(c, level.severity, level.labels),
                    level=level,
                )
            )
        predicted = n.check_alert(self.service.name, c.name, "ExhaustionPredicted")
        for ex in c.exhaustion:
            trend = Call("predict_linear", (replace(usage, range_=ex.lookback), Number(ex.within)))
            rules.append(
                Rule(
                    Binary(">=", trend, limit),
                    c,
                    alert=predicted,
                    what="exhaustion",
                    for_=ex.for_,
                    labels=self.alert_labels(c, ex.severity, ex.labels),
                    level=ex,
                )
            )
        return rules

    def freshness(self, f: Freshness) -> list[Rule]:
        age = Binary("-", Call("time", ()), _tree(f.timestamp_tree))
        alert = n.check_alert(self.service.name, f.name, "Stale")
        recorded = self.recorded(n.FRESHNESS_AGE, f)
        return [
            Rule(age, f, record=n.FRESHNESS_AGE, labels=self.own(f)),
            *self.levels(f, alert, "stale", recorded, ">", f.levels),
        ]

    def expiry(self, e: Expiry) -> list[Rule]:
        left = Binary("-", _tree(e.timestamp_tree), Call("time", ()))
        alert = n.check_alert(self.service.name, e.name, "Expiring")
        recorded = self.recorded(n.EXPIRY_REMAINING, e)
        return [
            Rule(left, e, record=n.EXPIRY_REMAINING, labels=self.own(e)),
            *self.levels(e, alert, "expiring", recorded, "<", e.levels),
        ]

    def absence(self, a: Absence) -> Rule:
        series = _tree(a.series)
        expr: Expr = Call("absent", (series,))
        if a.target:
            # A target that is scraped but down reports up == 0; one never scraped, nothing.
            expr = Binary("or", Binary("==", series, Number(0)), expr)
        return Rule(
            expr,
            a,
            alert=n.check_alert(self.service.name, a.name, "Absent"),
            what="absent",
            for_=a.for_,
            labels=self.alert_labels(a, a.severity),
        )


def groups(service: Service) -> dict[str, Group]:
    """The service's check groups by kind (KINDS), the kinds it has only."""
    b = _Builder(service)
    rules: dict[str, list[Rule]] = {
        "thresholds": [r for t in service.thresholds for r in b.threshold(t)],
        "capacity": [r for c in service.capacity for r in b.capacity(c)],
        "freshness": [r for f in service.freshness for r in b.freshness(f)]
        + [r for e in service.expiry for r in b.expiry(e)],
        "absence": [b.absence(a) for a in service.absence],
    }
    return {
        kind: Group(kind, n.group_name(service.name, kind), tuple(rules[kind]))
        for kind in KINDS
        if rules[kind]
    }
