"""Stage 4: the SLO math, pure and free of I/O.

burn rate = error ratio / error budget. A tier that should fire when `budget_percent` of
the period's budget is spent within `long_window` fires above the burn factor

    factor = budget_percent / 100 * period / long_window

(30d: 14.4, 6, 3, 1; 28d: 13.44, 5.6, 2.8, 0.933). The highest possible burn rate is
1 / error_budget (every event bad), so a tier with factor * error_budget >= 1 can never fire.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from generator.conventions import BASE_WINDOW_SECONDS
from generator.errors import Problem
from generator.spec.model import SLO, BurnTier, Service
from generator.units import format_number

# Rule groups by how often they must be evaluated: page tiers every 30s, the rest less
# often, because each evaluation of a long window reads many recorded samples.
FAST_INTERVAL = 30.0
SLOW_INTERVAL = 300.0
PERIOD_INTERVAL = 300.0
# Windows up to this length are recomputed every FAST_INTERVAL.
FAST_WINDOW_LIMIT = 6 * 3600.0

# Denominator floor: a window without traffic gives an error ratio of 0, never NaN.
ZERO_TRAFFIC_FLOOR = 1e-12
# A window is the mean of at most this many back-to-back copies of a shorter recorded
# window; longer chains get an intermediate window where one saves copies (30d = 2 x 15d,
# 15d = 5 x 3d: 5 copies written and read where 30d = 10 x 3d took 9).
MAX_PIECES = 6
# A window that only many more pieces could build (a prime multiple of its source) is
# summed over the recorded 5m rates instead.
MAX_PRIME_PIECES = 31


@dataclass(frozen=True)
class WindowRecipe:
    """A window's rates as the mean of `pieces` back-to-back copies of the `source`
    window's recorded rates, at offsets 0, source, 2 x source, ...

    The copies neither overlap nor leave gaps, so the window counts every event in it
    exactly once, as a sum over the raw counters would, while reading a few recorded
    samples instead of every sample in the window."""

    window: float
    source: float
    pieces: int

    @property
    def offsets(self) -> tuple[float, ...]:
        return tuple(j * self.source for j in range(self.pieces))


# The low-traffic guard's reference traffic: by default a tier needs the failures its
# factor implies at one event a minute, and never fewer than MIN_FAILED_DEFAULT.
GUARD_REFERENCE_RATE = 1 / 60.0  # events per second
MIN_FAILED_DEFAULT = 2
# The low-traffic promise: an outage at a traffic where one failure alone would page
# every page tier still pages within this long.
LOW_TRAFFIC_DETECTION = 600.0
# Below one event a minute, the low-traffic proofs' events come at most this many minutes
# apart: one a 5m proof step at least, and 2 failures within LOW_TRAFFIC_DETECTION.
LOW_TRAFFIC_MAX_GAP = 5


@dataclass(frozen=True)
class TierPlan:
    tier: BurnTier
    factor: float  # burn-rate threshold
    min_failed_events: int = 1  # the low-traffic guard; 1: none

    def detection_time(
        self, error_ratio: float, error_budget: float, events_per_second: float | None = None
    ) -> float | None:
        """Seconds from the start of a constant error ratio until the alert fires.

        The long window's ratio reaches factor * budget after long * factor * budget /
        error_ratio seconds (the short window, being shorter, is there first); then `for`.
        With a traffic (events per second), the guard also waits for min_failed_events
        failures in the long window: min_failed_events / (error_ratio * traffic) seconds.
        None when this error ratio (at this traffic) never gets there.
        """
        needed = self.factor * error_budget
        if error_ratio <= needed:
            return None
        rise = self.tier.long_window * needed / error_ratio
        if events_per_second is not None and self.min_failed_events > 1:
            failing = error_ratio * events_per_second  # failures per second
            if failing * self.tier.long_window < self.min_failed_events:
                return None
            rise = max(rise, self.min_failed_events / failing)
        return rise + self.tier.for_


@dataclass(frozen=True)
class SLOPlan:
    slo: SLO
    tiers: tuple[TierPlan, ...]
    fast_windows: tuple[float, ...]  # seconds, recomputed every FAST_INTERVAL
    slow_windows: tuple[float, ...]  # seconds, recomputed every SLOW_INTERVAL
    period_window: float | None  # the period, when no tier window already equals it
    # How each recorded window above the base is built, shortest first; a window
    # without a recipe is summed over the recorded 5m rates.
    recipes: tuple[WindowRecipe, ...] = ()

    @property
    def error_budget(self) -> float:
        return self.slo.error_budget

    def recipe(self, window: float) -> WindowRecipe | None:
        return next((r for r in self.recipes if r.window == window), None)

    def recipes_in(self, group: str) -> tuple[WindowRecipe, ...]:
        """The recipes evaluated in a rule group: fast, slow or period. The period is
        built in its own group; helper windows by length, as tier windows are."""

        def group_of(r: WindowRecipe) -> str:
            if r.window == self.period_window:
                return "period"
            return "fast" if r.window <= FAST_WINDOW_LIMIT else "slow"

        return tuple(r for r in self.recipes if group_of(r) == group)

    @property
    def has_slow_group(self) -> bool:
        return bool(self.slow_windows or self.recipes_in("slow"))

    def tiers_in(self, windows: tuple[float, ...]) -> tuple[TierPlan, ...]:
        """The tiers whose long window is recomputed with these windows' group."""
        return tuple(t for t in self.tiers if t.tier.long_window in windows)


@dataclass(frozen=True)
class Finding:
    """A reason the plan cannot work, with the tier it concerns."""

    tier: BurnTier
    message: str


def burn_factor(budget_percent: float, period: float, long_window: float) -> float:
    return round(budget_percent / 100 * period / long_window, 10)


def default_min_failed_events(factor: float, error_budget: float, long_window: float) -> int:
    """The failures a burn at the tier's factor puts in its long window at one event a
    minute, and at least 2: below that traffic the tier needs as many failures as it
    would there; above it a real burn at the factor already brings them, so the guard
    never binds. 99.99%: 2 for every workbook tier; 99%: page_fast 9."""
    failures = factor * error_budget * long_window * GUARD_REFERENCE_RATE
    # Rounded first: float noise (14.4 * 0.01 * 60 = 8.640000000000001) must not add one.
    return max(MIN_FAILED_DEFAULT, math.ceil(round(failures, 9)))


def budget_share(factor: float, window: float, period: float) -> float:
    """Share of the period's budget spent in `window` at burn rate `factor`."""
    return factor * window / period


def time_to_exhaustion(burn_rate: float, period: float) -> float:
    """Seconds until a full budget is gone at a constant burn rate."""
    return period / burn_rate


def plan_slo(slo: SLO) -> tuple[SLOPlan, list[Finding]]:
    findings: list[Finding] = []
    tiers = []
    for tier in slo.alerting.tiers:
        factor = burn_factor(tier.budget_percent, slo.period, tier.long_window)
        if factor * slo.error_budget >= 1 - 1e-9:  # float noise must not make it possible
            max_rate = 1 / slo.error_budget
            findings.append(
                Finding(
                    tier,
                    f"{tier.key} can never fire: it needs a burn rate above "
                    f"{format_number(factor)} but at objective {format_number(slo.objective)}% "
                    f"a total outage burns at most {format_number(round(max_rate, 4))}; "
                    f"disable it, lower its budget_percent or lengthen its long_window",
                )
            )
            continue
        guard = tier.min_failed_events
        if guard is None:
            # A gauge SLI counts samples at the scrape interval, not traffic, and a sample
            # may fail in part (docs/alerts.md, the low-traffic guard): no default guard.
            guard = 1
            if slo.indicator.kind != "gauge":
                guard = default_min_failed_events(factor, slo.error_budget, tier.long_window)
        tiers.append(TierPlan(tier, factor, guard))
    windows = {BASE_WINDOW_SECONDS}
    for t in tiers:
        windows.update((t.tier.long_window, t.tier.short_window))
    fast = tuple(sorted(w for w in windows if w <= FAST_WINDOW_LIMIT))
    slow = tuple(sorted(w for w in windows if w > FAST_WINDOW_LIMIT))
    period = None if slo.period in windows else slo.period
    recipes = window_recipes((*windows, slo.period))
    return SLOPlan(slo, tuple(tiers), fast, slow, period, recipes), findings


def window_recipes(windows: tuple[float, ...]) -> tuple[WindowRecipe, ...]:
    """Recipes for every window above the base that a chain of pieces can build.

    Each window takes the longest recorded window that divides it; when that needs more
    than MAX_PIECES copies, an intermediate window of source x d is recorded first, d
    the divisor of the count that leaves the fewest pieces in both rules (d + count / d;
    on a tie the longer intermediate). Windows that are no multiple of the base window
    get no recipe. Milliseconds as integers, so divisibility is exact."""
    base = round(BASE_WINDOW_SECONDS * 1000)
    built = [base]
    recipes: list[WindowRecipe] = []
    for window in sorted({round(w * 1000) for w in windows if w > BASE_WINDOW_SECONDS}):
        if window % base:
            continue
        while True:
            source = max(b for b in built if window % b == 0)
            count = window // source
            divisors = [d for d in range(2, count) if count % d == 0]
            if count <= MAX_PIECES or not divisors:
                break
            step = source * min(divisors, key=lambda d: (d + count // d, -d))
            recipes.append(WindowRecipe(step / 1000, source / 1000, step // source))
            built.append(step)
        if count > MAX_PRIME_PIECES:
            continue
        recipes.append(WindowRecipe(window / 1000, source / 1000, count))
        built.append(window)
    return tuple(sorted(recipes, key=lambda r: r.window))


def plan_service(service: Service) -> tuple[list[SLOPlan], list[Finding]]:
    plans, findings = [], []
    for slo in service.slos:
        plan, found = plan_slo(slo)
        plans.append(plan)
        findings.extend(found)
    return plans, findings


def page_tiers(plan: SLOPlan) -> list[TierPlan]:
    return [tp for tp in plan.tiers if tp.tier.key.startswith("page")]


def one_failure_pages_below(plan: SLOPlan) -> float | None:
    """Events per second below which one failure in a long window full of traffic is a
    burn above every page tier's factor (1 / (factor x budget x window)); None without
    page tiers."""
    pages = page_tiers(plan)
    if not pages:
        return None
    return min(1 / (tp.factor * plan.error_budget * tp.tier.long_window) for tp in pages)


def low_traffic(plan: SLOPlan) -> float | None:
    """Events per second of the low-traffic proofs, or None where the guard cannot show.

    A traffic where one failure alone is a burn above every page tier's factor over its
    long window (so, unguarded, it pages): half the highest such traffic, so that one
    failure is at least twice the factor, in whole events a minute, or below one a
    minute one event every whole number of minutes (at most LOW_TRAFFIC_MAX_GAP). Only
    where every page tier has a guard, the SLI counts events, and a total outage at that
    traffic still pages within LOW_TRAFFIC_DETECTION (99.99%: 2 a minute, paged after 1
    minute; 99.9%: one every 5 minutes, paged after 10)."""
    highest = one_failure_pages_below(plan)
    if highest is None or plan.slo.indicator.kind == "gauge":
        return None
    pages = page_tiers(plan)
    if any(tp.min_failed_events < 2 for tp in pages):
        return None
    half = round(highest * 60 / 2, 9)  # events a minute
    if half >= 1:
        rate = math.floor(half) / 60
    else:
        # One event every few minutes: a failure is still a whole event.
        gap = math.ceil(round(1 / half, 9))
        if gap > LOW_TRAFFIC_MAX_GAP:
            return None
        rate = 1 / (gap * 60)
    if plan.slo.alerting.min_traffic > rate * 3600:
        return None  # min_traffic silences this traffic altogether, as the spec chose
    _, first = outage_page(pages, plan.error_budget, rate)
    return rate if first is not None and first <= LOW_TRAFFIC_DETECTION else None


def outage_page(
    pages: Sequence[TierPlan], error_budget: float, rate: float
) -> tuple[TierPlan | None, float | None]:
    """The page tier a total outage at `rate` events a second fires first, and after how
    many seconds (guards included); (None, None) when none of `pages` ever fires."""
    times = [(tp.detection_time(1.0, error_budget, rate), tp) for tp in pages]
    found = [(t, tp) for t, tp in times if t is not None]
    if not found:
        return None, None
    detect, first = min(found, key=lambda item: item[0])
    return first, detect


def slowest_detection(tier: TierPlan) -> float:
    """Seconds to fire for a burn just above the tier's factor: the long window fills up."""
    return tier.tier.long_window + tier.tier.for_


def budget_alert_time(
    consumed_percent: float, error_ratio: float, error_budget: float, period: float, for_: float
) -> float | None:
    """Seconds from the start of a constant error ratio (after a clean period) until the
    budget alert at `consumed_percent` fires; None when that ratio never spends so much."""
    spent_share = consumed_percent / 100 * error_budget * period
    if error_ratio * period < spent_share - 1e-12 or error_ratio <= 0:
        return None
    return spent_share / error_ratio + for_


def advice(plans: Iterable[SLOPlan]) -> list[Problem]:
    """Policies that work but wake people needlessly: a critical tier whose factor is
    below 1 fires at burn rates that leave budget at the end of the period, while the
    objective is met. (A ticket below 1 is usual: ticket_slow on a 7d period is 0.23.)"""
    return [
        tp.tier.origin.problem(
            f"{tp.tier.key} pages (severity critical) at burn rates above "
            f"{format_number(round(tp.factor, 4))}, below 1, at which the budget outlasts the "
            "period; raise its budget_percent, shorten its long_window, or lower its severity"
        )
        for p in plans
        for tp in p.tiers
        if tp.tier.severity == "critical" and tp.factor < 1 - 1e-9
    ]
