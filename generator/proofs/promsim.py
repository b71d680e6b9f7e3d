"""How Prometheus 2.42 evaluates promspec's SLO rules on synthetic input: a pure model.

The scenario generator uses it to predict, tick by tick, every recorded ratio and which
burn-rate and budget alerts fire, so the generated promtool tests can assert exact alert
sets and annotation values. The model follows the rules in templates/rules_slo.yml.j2:
the SLI is read over the 5m base window (for counters what they gained since 5m ago,
rate() with Prometheus' extrapolation while no sample is 5m old; count/sum_over_time for
0/1 gauges). A window built from back-to-back copies of shorter recorded windows
(plan.WindowRecipe) sums, whatever the chain, the base samples at t, t-5m, t-10m, ...
inside it, a copy missing adding nothing; any other window is the event-weighted sum over
every recorded 5m rate, ranges inclusive at both ends as in Prometheus 2.x. `for` counts
from the first evaluation at which the condition held. promtool evaluates every group at
each tick (it ignores group `interval:`), and so does this model.

Input: one evaluation tick per sample (step seconds), and per tick the events counted
since the previous tick (`events`) and the share of them that failed (`bad`). For a
gauge SLI, each sample's value is 1 - bad (the share of probes that succeeded).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from generator.conventions import BASE_WINDOW_SECONDS
from generator.slo.plan import ZERO_TRAFFIC_FLOOR, SLOPlan


@dataclass(frozen=True)
class Traffic:
    step: float  # seconds between samples and between evaluations
    events: tuple[float, ...]  # events per tick (counters); ignored for gauges
    bad: tuple[float, ...]  # failed share per tick, 0..1
    gauge: bool = False

    @property
    def ticks(self) -> int:
        return len(self.bad)


@dataclass(frozen=True)
class AlertState:
    firing: tuple[bool, ...]
    value: tuple[float | None, ...]  # the alert expression's value, when it has one
    condition: tuple[bool, ...] = ()  # the expression returned a sample (before `for`)


def extrapolated_rate(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    """rate() over counter samples (t, v) within [start, end], as Prometheus 2.42 computes it."""
    if len(points) < 2:
        return None
    first_t, first_v = points[0]
    last_t, last_v = points[-1]
    result = last_v - first_v
    to_start, to_end = first_t - start, end - last_t
    sampled = last_t - first_t
    average = sampled / (len(points) - 1)
    if result > 0 and first_v >= 0:
        to_start = min(to_start, sampled * (first_v / result))
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled) / (end - start)


class SLOModel:
    """The recorded SLI series of one SLO under one traffic shape."""

    def __init__(self, traffic: Traffic) -> None:
        self.t = traffic
        n, step = traffic.ticks, traffic.step
        self.times = [k * step for k in range(n)]
        back = round(BASE_WINDOW_SECONDS / step)  # ticks in 5m: the tick 5m ago is k - back
        total: list[float | None] = []
        errors: list[float | None] = []
        if traffic.gauge:
            good = [1 - b for b in traffic.bad]
            for k in range(n):
                lo = self._first_tick(self.times[k] - BASE_WINDOW_SECONDS)
                count, ok = k - lo + 1, sum(good[lo : k + 1])
                total.append(count / BASE_WINDOW_SECONDS)
                errors.append(count / BASE_WINDOW_SECONDS - ok / BASE_WINDOW_SECONDS)
        else:
            # Counters: tick k holds the events since tick k-1 (none at tick 0).
            inc = [0.0, *traffic.events[1:]]
            bad_inc = [0.0] + [
                e * b for e, b in zip(traffic.events[1:], traffic.bad[1:], strict=True)
            ]
            tot_c = list(accumulate(inc))
            bad_c = list(accumulate(bad_inc))
            for k in range(min(back, n)):  # no sample 5m old yet: rate()
                end = self.times[k]
                lo = self._first_tick(end - BASE_WINDOW_SECONDS)
                tot_pts = [(self.times[j], tot_c[j]) for j in range(lo, k + 1)]
                bad_pts = [(self.times[j], bad_c[j]) for j in range(lo, k + 1)]
                start = end - BASE_WINDOW_SECONDS
                total.append(extrapolated_rate(tot_pts, start, end))
                errors.append(extrapolated_rate(bad_pts, start, end))
            # Then what the counters gained since 5m ago.
            total += [gained / BASE_WINDOW_SECONDS for gained in _since(tot_c, back)[back:]]
            errors += [gained / BASE_WINDOW_SECONDS for gained in _since(bad_c, back)[back:]]
        self.total = total
        self.errors = errors
        present = [v is not None for v in total]
        self._sum_tot = list(accumulate((v or 0.0) for v in total))
        self._sum_err = list(accumulate((v or 0.0) for v in errors))
        self._count = list(accumulate(int(p) for p in present))
        # Sums of every base sample 5m apart: a pieced window is a difference of two.
        self._piece_tot = _strided_sums(total, back)
        self._piece_err = _strided_sums(errors, back)
        self._piece_count = _strided_sums([1.0 if p else None for p in present], back)
        self._series: dict[tuple[str, float, bool], list[float | None]] = {}
        self._sums_of: dict[tuple[float, bool], tuple[list[float], list[float], list[float]]] = {}

    def _first_tick(self, start: float) -> int:
        """Index of the first tick at or after `start` (ranges include their start)."""
        return max(0, bisect.bisect_left(self.times, start - 1e-9))

    def _window(self, k: int, window: float) -> tuple[float, float, float]:
        lo = self._first_tick(self.times[k] - window)
        before = lo - 1
        err = self._sum_err[k] - (self._sum_err[before] if before >= 0 else 0.0)
        tot = self._sum_tot[k] - (self._sum_tot[before] if before >= 0 else 0.0)
        cnt = self._count[k] - (self._count[before] if before >= 0 else 0)
        return err, tot, cnt

    def error_ratio(self, k: int, window: float, pieced: bool = True) -> float | None:
        """slo:sli_error:ratio_rate<window> at tick k (None: no recorded sample yet)."""
        return self.ratios(window, pieced)[k]

    def ratios(self, window: float, pieced: bool = True) -> list[float | None]:
        """slo:sli_error:ratio_rate<window> at every tick (None: no recorded sample yet).

        `pieced`: the window has a recipe (plan.WindowRecipe); otherwise it is summed over
        every recorded 5m rate. Computed once per window: every tier and scenario of this
        traffic reads the same series."""
        key = ("ratio", window, pieced)
        if key not in self._series:
            floor = ZERO_TRAFFIC_FLOOR  # max(tot, floor), without a call per tick
            if window == BASE_WINDOW_SECONDS:
                self._series[key] = [
                    None if tot is None or err is None else err / (tot if tot > floor else floor)
                    for tot, err in zip(self.total, self.errors, strict=True)
                ]
            else:
                errs, tots, cnts = self._sums(window, pieced)
                self._series[key] = [
                    None if cnt == 0 else err / (tot if tot > floor else floor)
                    for err, tot, cnt in zip(errs, tots, cnts, strict=True)
                ]
        return self._series[key]

    def events(
        self, window: float, pieced: bool = True, failed: bool = False
    ) -> list[float | None]:
        """Per tick, slo:sli_events:rate<window>{events="total"} * window when pieced (the
        copies' mean rate), else avg_over_time(the 5m total rate[window]) * window.
        `failed`: the same of events="errors", the failed events in the window."""
        key = ("failed" if failed else "events", window, pieced)
        if key not in self._series:
            errs, tots, cnts = self._sums(window, pieced)
            if failed:
                tots = errs
            if pieced:
                self._series[key] = [
                    None if cnt == 0 else tot * BASE_WINDOW_SECONDS
                    for tot, cnt in zip(tots, cnts, strict=True)
                ]
            else:
                self._series[key] = [
                    None if cnt == 0 else tot / cnt * window
                    for tot, cnt in zip(tots, cnts, strict=True)
                ]
        return self._series[key]

    def series(self, kind: str, window: float, pieced: bool = True) -> list[float | None]:
        """Per tick, the recorded series of a window: "ratio" (slo:sli_error:ratio_rate),
        or slo:sli_events:rate<window> by its events label (total, errors, history)."""
        if kind == "ratio":
            return self.ratios(window, pieced)
        if window == BASE_WINDOW_SECONDS:
            if kind == "history":
                return [None if t is None else 1.0 for t in self.total]
            return list(self.total if kind == "total" else self.errors)
        errs, tots, cnts = self._sums(window, pieced)
        if kind == "history":
            return [
                None if c == 0 else h
                for c, h in zip(cnts, self.history(window, pieced), strict=True)
            ]
        sums = tots if kind == "total" else errs
        if pieced:  # the mean of the copies: the base samples' sum over the window's count
            return [
                None if c == 0 else v * BASE_WINDOW_SECONDS / window
                for v, c in zip(sums, cnts, strict=True)
            ]
        return [None if c == 0 else v / c for v, c in zip(sums, cnts, strict=True)]

    def history(self, window: float, pieced: bool = True) -> list[float]:
        """Per tick, slo:sli_events:rate<window>{events="history"}: the share of the
        window's base samples (5m apart) that exist. Full (1) for a window summed over
        every recorded 5m rate, whose budget reads the ratio of its history alone."""
        _, _, cnts = self._sums(window, pieced)
        if not pieced:
            return [1.0] * len(cnts)
        return [cnt * BASE_WINDOW_SECONDS / window for cnt in cnts]

    def _sums(self, window: float, pieced: bool) -> tuple[list[float], list[float], list[float]]:
        """Per tick: the errors, events and samples the window adds up. Pieced: the base
        samples at k, k - 5m, ... inside it; otherwise every recorded 5m rate in it.
        Computed once per window (its ratios and its events both read them)."""
        found = self._sums_of.get((window, pieced))
        if found is None:
            if pieced:
                back = round(window / self.t.step)
                found = (
                    _since(self._piece_err, back),
                    _since(self._piece_tot, back),
                    _since(self._piece_count, back),
                )
            else:
                sums = [self._window(k, window) for k in range(len(self.times))]
                found = ([e for e, _, _ in sums], [t for _, t, _ in sums], [c for _, _, c in sums])
            self._sums_of[window, pieced] = found
        return found


def _since(sums: list[float], back: int) -> list[float]:
    """out[k] = sums[k] - sums[k - back], or sums[k] while k < back."""
    return sums[:back] + [now - then for now, then in zip(sums[back:], sums, strict=False)]


def _strided_sums(values: list[float | None], stride: int) -> list[float]:
    """out[k] = values[k] + values[k - stride] + ..., a missing value counting 0."""
    out: list[float] = [0.0] * len(values)
    for first in range(min(stride, len(values))):  # each chain k, k + stride, ... alone
        out[first::stride] = accumulate(v or 0.0 for v in values[first::stride])
    return out


def hold(condition: list[bool], times: list[float], for_: float) -> tuple[bool, ...]:
    """Firing per tick: the condition held at every evaluation for at least `for_`."""
    out, since = [], None
    for ok, t in zip(condition, times, strict=True):
        since = (since if since is not None else t) if ok else None
        out.append(since is not None and t - since >= for_ - 1e-9)
    return tuple(out)


def model(traffic: Traffic) -> SLOModel:
    """The model of a traffic shape; shared, since many SLOs see the same shapes."""
    return _model(traffic)


@lru_cache(maxsize=64)
def _model(traffic: Traffic) -> SLOModel:
    return SLOModel(traffic)


def tier_states(plan: SLOPlan, model: SLOModel) -> list[AlertState]:
    """One AlertState per tier of the plan, in plan order.

    The states depend only on numbers (factors, windows, budget, traffic), and SLOs with
    the same policy and objective share them: computed once per run, not once per SLO."""
    tiers = tuple(
        (tp.factor, tp.tier.long_window, tp.tier.short_window, tp.tier.for_, tp.min_failed_events)
        for tp in plan.tiers
    )
    pieced = frozenset(r.window for r in plan.recipes)
    return list(
        _tier_states(tiers, plan.error_budget, plan.slo.alerting.min_traffic, pieced, model.t)
    )


@lru_cache(maxsize=256)
def _tier_states(
    tiers: tuple[tuple[float, float, float, float, int], ...],
    budget: float,
    traffic_floor: int,
    pieced: frozenset[float],
    traffic: Traffic,
) -> tuple[AlertState, ...]:
    model = _model(traffic)
    states = []
    for factor, long_window, short_window, for_, min_failed in tiers:
        longs = model.ratios(long_window, long_window in pieced)
        shorts = model.ratios(short_window, short_window in pieced)
        events = model.events(long_window, long_window in pieced)
        failed = model.events(long_window, long_window in pieced, failed=True)
        values = tuple(None if long is None else long / budget for long in longs)
        cond = [
            burn_long is not None
            and short is not None
            and burn_long > factor
            and short / budget > factor
            and (not traffic_floor or (counted is not None and counted >= traffic_floor))
            # round() >= k: Prometheus rounds half up (floor(x + 0.5)).
            and (min_failed <= 1 or (bad is not None and math.floor(bad + 0.5) >= min_failed))
            for burn_long, short, counted, bad in zip(values, shorts, events, failed, strict=True)
        ]
        states.append(AlertState(hold(cond, model.times, for_), values, tuple(cond)))
    return tuple(states)


def budget_states(plan: SLOPlan, model: SLOModel) -> list[AlertState]:
    """One AlertState per budget alert (low, exhausted) of the SLO, in policy order."""
    states = []
    for b in plan.slo.alerting.budget_alerts:
        level = round(1 - b.consumed_percent / 100, 12)
        cond, values = [], []
        pieced = plan.recipe(plan.slo.period) is not None
        for ratio, history in zip(
            model.ratios(plan.slo.period, pieced),
            model.history(plan.slo.period, pieced),
            strict=True,
        ):
            remaining = None if ratio is None else 1 - ratio * history / plan.error_budget
            cond.append(remaining is not None and remaining <= level)
            values.append(remaining)
        states.append(AlertState(hold(cond, model.times, b.for_), tuple(values), tuple(cond)))
    return states
