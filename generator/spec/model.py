"""Stage 3: the typed, immutable model of a service, with defaults applied.

Everything after this stage works on these dataclasses only; they carry the origin
(file, line, field) of what they came from so later stages can still point at the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from generator.errors import Problem
from generator.promql.expr import Expr
from generator.promql.fragments import Matcher, selector_text

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Origin:
    file: str
    line: int
    column: int
    field: str

    def problem(self, message: str) -> Problem:
        return Problem(self.file, self.line, self.column, self.field, message)


@dataclass(frozen=True)
class Selector:
    """A plain series selector with the service matchers already merged in."""

    metric: str
    matchers: tuple[Matcher, ...]

    def text(self, suffix: str = "", extra: tuple[Matcher, ...] = ()) -> str:
        return selector_text(self.metric + suffix, (*self.matchers, *extra))


@dataclass(frozen=True)
class RatioIndicator:
    total: Selector
    errors: Selector | None = None
    good: Selector | None = None
    kind: Literal["ratio"] = "ratio"


@dataclass(frozen=True)
class LatencyIndicator:
    histogram: Selector  # base name, without _bucket / _count
    threshold: float  # seconds, one of buckets
    buckets: tuple[float, ...]
    kind: Literal["latency"] = "latency"


@dataclass(frozen=True)
class GaugeIndicator:
    metric: Selector  # 0/1 samples, 0 is bad
    kind: Literal["gauge"] = "gauge"


Indicator = RatioIndicator | LatencyIndicator | GaugeIndicator


@dataclass(frozen=True)
class BurnTier:
    """One multiwindow burn-rate alert of an SLO's policy."""

    key: str  # page_fast, page_slow, ticket_fast, ticket_slow
    budget_percent: float  # share of the period's budget spent within long_window
    long_window: float  # seconds
    short_window: float  # seconds
    severity: Severity
    for_: float  # seconds
    origin: Origin
    # Failed events the long window must hold before the alert fires; None: derived
    # from the objective (plan.min_failed_events), 1: no guard.
    min_failed_events: int | None = None


@dataclass(frozen=True)
class BudgetAlert:
    key: str  # budget_low, budget_exhausted
    consumed_percent: float
    severity: Severity
    for_: float
    origin: Origin


@dataclass(frozen=True)
class NoDataAlert:
    """An alert on the SLI's data itself: none at all (no_data), or series that count no
    events (traffic_stopped)."""

    for_: float
    severity: Severity


@dataclass(frozen=True)
class AlertPolicy:
    tiers: tuple[BurnTier, ...]  # enabled tiers only, in policy order
    budget_alerts: tuple[BudgetAlert, ...]
    min_traffic: int
    no_data: NoDataAlert | None
    # Opt-in: the SLI's series exist but count no events (a stopped service, a broken
    # route): no burn alert can see that.
    traffic_stopped: NoDataAlert | None = None


@dataclass(frozen=True)
class SLO:
    name: str
    description: str
    objective: float  # percent, in (0, 100)
    period: float  # seconds
    group_by: tuple[str, ...]
    indicator: Indicator
    alerting: AlertPolicy
    origin: Origin

    @property
    def error_budget(self) -> float:
        """Allowed share of bad events, as a ratio: 99.9 -> 0.001."""
        return round(1 - self.objective / 100, 12)


@dataclass(frozen=True)
class Level:
    severity: Severity
    value: float
    for_: float | None = None  # its own `for` (capacity headroom); None: the check's
    labels: tuple[tuple[str, str], ...] = ()  # its own labels, on top of the check's


@dataclass(frozen=True)
class Check:
    """What every non-SLO alert shares: identity, routing and where it came from."""

    name: str
    description: str
    for_: float
    runbook_url: str
    labels: tuple[tuple[str, str], ...]
    origin: Origin


@dataclass(frozen=True)
class Threshold(Check):
    expr: str = ""  # canonical PromQL text (dashboards, explain, proofs)
    expr_tree: Expr | None = None  # the same, parsed once: rules embed it
    direction: Literal["above", "below"] = "above"
    levels: tuple[Level, ...] = ()
    unit: str = "none"


@dataclass(frozen=True)
class Exhaustion:
    """One time-to-exhaustion level: usage predicted to reach the limit within `within`."""

    within: float
    lookback: float
    severity: Severity
    for_: float
    labels: tuple[tuple[str, str], ...] = ()  # its own labels, on top of the check's


@dataclass(frozen=True)
class Capacity(Check):
    usage: str = ""
    limit: str = ""  # PromQL, or a number as text
    usage_tree: Expr | None = None
    limit_tree: Expr | None = None  # a Number for a literal limit
    headroom: tuple[Level, ...] = ()  # percent of the limit that must stay free
    unit: str = "none"
    exhaustion: tuple[Exhaustion, ...] = ()  # weakest severity first, like the headroom

    def level_for(self, level: Level) -> float:
        """How long a headroom level must hold: its own `for`, else the check's."""
        return self.for_ if level.for_ is None else level.for_


@dataclass(frozen=True)
class Freshness(Check):
    timestamp: str = ""
    timestamp_tree: Expr | None = None
    levels: tuple[Level, ...] = ()  # maximum age in seconds


@dataclass(frozen=True)
class Expiry(Check):
    timestamp: str = ""
    timestamp_tree: Expr | None = None
    levels: tuple[Level, ...] = ()  # minimum time left in seconds


@dataclass(frozen=True)
class Absence(Check):
    selector: str = ""
    series: Expr | None = None  # the selector as an expression node
    target: bool = False  # a scrape target (up) rather than any metric
    severity: Severity = "critical"


@dataclass(frozen=True)
class Service:
    name: str
    team: str
    tier: str
    description: str
    runbook_base_url: str
    labels: tuple[tuple[str, str], ...]
    selector: tuple[Matcher, ...]
    source: str
    origin: Origin
    slos: tuple[SLO, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    capacity: tuple[Capacity, ...] = ()
    freshness: tuple[Freshness, ...] = ()
    expiry: tuple[Expiry, ...] = ()
    absence: tuple[Absence, ...] = ()
    grafana_url: str = ""  # alerts link their dashboard panel when set
    # compat.sloth: also record the series Sloth's dashboards read (rules_sloth.yml.j2).
    compat_sloth: bool = False

    def runbook(self, alert: str, own: str = "") -> str:
        return own or f"{self.runbook_base_url.rstrip('/')}/{alert}"
