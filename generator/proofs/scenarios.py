"""Scenarios that prove each SLO alert fires when it should and stays silent otherwise.

Pure: from a service's plans and its rendered rules to test data (generator/proofs/proofdata.py).
Every expectation comes from the model in generator/proofs/promsim.py, and the designer checks
the model against the plan's math before it writes anything: a tier must fire after the
last evaluation before `detection_time` and by the first one after it (windows count
exactly what the counters gained, so there is no ramp to allow for; a gauge SLI's
windows count a few samples more, see SLOScenarios.fire_window).

A scenario is defined once, as a traffic shape (Shape) and the checks the model derives
from it, and encoded one of two ways: from raw counters (`inputs`: the end-to-end outage,
the 5m base, no data, zero traffic), or as the recorded windows the alert reads
(`recorded`, see generator/proofs/layers.py: detections, outages, steady burns, budgets),
cut to the evaluations the checks need, one tier's windows per test group. Two files per
service, because promtool evaluates every rule group at the file's `evaluation_interval`:
  fast (1m): page tiers, budget, the raw-counter scenarios;
  long (5m): tiers with windows over 6h.
The window rules are proven a layer below (generator/proofs/windowproofs.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import TypeVar

from generator import conventions
from generator.conventions import BASE_WINDOW_SECONDS
from generator.promql.fragments import plain_selector
from generator.proofs import layers, promsim, promtemplate
from generator.proofs.proofdata import (
    AlertCheck,
    ExpectedAlert,
    ExprCheck,
    InputSeries,
    RuleInfo,
    Scenario,
)
from generator.proofs.series import (
    SYNTHETIC_VALUE,
    Unsupported,
    exact,
    expanding,
    matches,
    satisfy,
    series_text,
)
from generator.slo import plan as plan_math
from generator.slo.plan import FAST_WINDOW_LIMIT, SLOPlan, TierPlan
from generator.spec.model import (
    BudgetAlert,
    GaugeIndicator,
    Indicator,
    LatencyIndicator,
    Origin,
    RatioIndicator,
    Selector,
    Service,
)
from generator.units import format_duration, format_le, format_number, human_duration

FAST_STEP = 60.0
LONG_STEP = 300.0
EVENTS_PER_STEP = 100.0  # enough for any min_traffic guard over a 5m window and up
# "At the tier's burn rate": a quarter above its factor, so it must fire; the others
# when another tier's $value sits on a rounding edge at that burn (see detection).
ABOVE = (1.25, 1.3, 1.35, 1.4)
BELOW = 0.9  # "just below every factor": 90% of the smallest, so nothing may fire
# The sustainable-burn scenario: 1x, or a hair below when a tier's factor is on that line.
SUSTAINABLE = (1.0, 0.99, 0.98, 0.97)
LEVEL_MARGIN = 0.05  # budget alerts: 5% past the level either way
# How far past its level a budget alert's firing scenario goes, 5% first (see
# SLOScenarios.budget_scenarios).
# A budget alert whose outage lasts this many 5m ticks is proven at the 5m step.
BUDGET_LONG_TICKS = 40
# Failed shares of the outage that spends a budget alert's level: at most half, then
# slightly less, for a $value off a rounding edge where the spend crosses the level (see
# SLOScenarios.budget_shares).
BUDGET_OUTAGE_SHARE = 0.5
BUDGET_SHARE_TRIES = (1.0, 0.97, 0.93, 0.9)
# Good traffic before the low-traffic scenarios' failure or outage: page_fast's window.
LOW_TRAFFIC_WARM = 3600.0
# Failed shares tried for the outage scenario, total first (see SLOScenarios.outage).
OUTAGE_SHARES = (1.0, 0.999, 0.99, 0.98)


class DesignError(AssertionError):
    """The model disagrees with the plan's math: a bug in promspec, never in a spec."""


class _Unstable(DesignError):
    """No evaluation near the wanted one renders every firing alert's $value stably."""


_T = TypeVar("_T")


def _first_stable(make: Callable[[float], _T], tries: Sequence[float], what: str) -> _T:
    """make(x) for the first x of `tries` whose alerts' $values all render stably.

    A constant burn puts a $value on a number fixed by the spec (1.25x, 156.25x, 99.475%);
    when that sits on a rounding edge of an annotation, float noise decides how it
    prints, and the scenario is built again a little further from the line instead."""
    for x in tries:
        try:
            return make(x)
        except _Unstable:
            continue
    raise DesignError(f"no stable evaluation time for {what}")


@dataclass(frozen=True)
class Shape:
    """Failed share per tick, with traffic on or off."""

    bad: tuple[float, ...]
    events: float = EVENTS_PER_STEP
    every: int = 1  # events arrive every this many ticks (low traffic), `events` each time

    def at(self, k: int) -> float:
        """Events counted at tick k (none at tick 0: counters start there)."""
        return self.events if k and k % self.every == 0 else 0.0

    @staticmethod
    def steps(step: float, *parts: tuple[float, float]) -> Shape:
        """(duration, failed share) parts, back to back; tick 0 included."""
        bad: list[float] = [parts[0][1]]
        for duration, share in parts:
            bad.extend([share] * round(duration / step))
        return Shape(tuple(bad))


def is_long(tp: TierPlan) -> bool:
    return tp.tier.long_window > FAST_WINDOW_LIMIT


def tick_at_or_after(seconds: float, step: float) -> int:
    return math.ceil(seconds / step - 1e-9)


class SLOScenarios:
    """The scenarios of one SLO, for one file (fast or long)."""

    def __init__(self, service: Service, plan: SLOPlan, rules: list[RuleInfo], long: bool):
        self.service, self.plan, self.slo, self.long = service, plan, plan.slo, long
        self.step = LONG_STEP if long else FAST_STEP
        self.tiers = [tp for tp in plan.tiers if is_long(tp) == long]
        self.burn_alert = conventions.slo_alert(service.name, self.slo.name, "ErrorBudgetBurn")
        self.group_labels = {g: SYNTHETIC_VALUE for g in self.slo.group_by}
        self.rules = rules
        self.recordings = [r for r in rules if r.record]
        windows = {BASE_WINDOW_SECONDS, *plan.fast_windows, *plan.slow_windows, self.slo.period}
        self.predicted = layers.predicted(windows)
        self.tier_rules = [self._rule(self.burn_alert, burn_tier=tp.tier.key) for tp in plan.tiers]

    # -- rules and expected alerts -------------------------------------------------
    def _rule(self, alert: str, **labels: str) -> RuleInfo:
        for r in self.rules:
            if (
                r.alert
                and r.alert == alert
                and all(r.labels.get(k) == v for k, v in labels.items())
            ):
                return r
        raise DesignError(f"no rendered rule {alert} {labels}")

    @cached_property
    def unguarded(self) -> SLOPlan:
        """The plan with every tier's failed-events guard off: where a tier would have
        fired without it, the scenarios that show the guard deciding check."""
        return replace(
            self.plan, tiers=tuple(replace(tp, min_failed_events=1) for tp in self.plan.tiers)
        )

    def series_labels(self) -> dict[str, str]:
        return {
            conventions.SERVICE_LABEL: self.service.name,
            conventions.SLO_LABEL: self.slo.name,
            **self.group_labels,
        }

    def expected(self, rule: RuleInfo, value: float | None, base: dict[str, str]) -> ExpectedAlert:
        labels = {**base, **rule.labels, "alertname": rule.alert}
        labels.pop("alertname")
        notes = {}
        for key, text in rule.annotations.items():
            if value is None:
                notes[key] = promtemplate.expand(text, math.nan) if "$value" in text else text
            else:
                notes[key] = promtemplate.expand(text, value)
        return ExpectedAlert(tuple(sorted(labels.items())), tuple(sorted(notes.items())))

    def stable(self, rule: RuleInfo, value: float | None) -> bool:
        if value is None:
            return True
        return all(promtemplate.is_stable(t, value) for t in rule.annotations.values())

    # -- input series ----------------------------------------------------------------
    def inputs(self, shape: Shape) -> tuple[InputSeries, ...]:
        """Series for this SLO's indicator carrying the shape's traffic."""
        ind = self.slo.indicator
        n = len(shape.bad)
        if isinstance(ind, GaugeIndicator):
            labels = satisfy(ind.metric.matchers, self.group_labels)
            good = [round(1 - b, 9) for b in shape.bad]
            return (InputSeries(series_text(ind.metric.metric, labels), expanding(good)),)
        total = [shape.events * (k // shape.every) for k in range(n)]
        bad = [0.0]
        for k in range(1, n):
            bad.append(bad[-1] + round(shape.at(k) * shape.bad[k], 9))
        good = [t - b for t, b in zip(total, bad, strict=True)]
        if isinstance(ind, LatencyIndicator):
            h = ind.histogram
            labels = satisfy(h.matchers, self.group_labels)
            le = {**labels, "le": format_le(ind.threshold)}
            return (
                InputSeries(series_text(h.metric + "_count", labels), expanding(total)),
                InputSeries(series_text(h.metric + "_bucket", le), expanding(good)),
            )
        assert isinstance(ind, RatioIndicator)
        part = ind.errors or ind.good
        assert part is not None
        part_values = bad if ind.errors else good
        rest_values = good if ind.errors else bad
        part_labels = satisfy((*ind.total.matchers, *part.matchers), self.group_labels)
        if part.metric != ind.total.metric:
            total_labels = satisfy(ind.total.matchers, self.group_labels)
            return (
                InputSeries(series_text(ind.total.metric, total_labels), expanding(total)),
                InputSeries(series_text(part.metric, part_labels), expanding(part_values)),
            )
        rest_labels = satisfy(ind.total.matchers, self.group_labels)
        if matches(rest_labels, part.matchers):
            raise Unsupported(
                f"cannot build a series that {ind.total.text()} selects and {part.text()} does not"
            )
        return (
            InputSeries(series_text(part.metric, part_labels), expanding(part_values)),
            InputSeries(series_text(ind.total.metric, rest_labels), expanding(rest_values)),
        )

    def model(self, shape: Shape) -> promsim.SLOModel:
        events = tuple(shape.at(k) if k else shape.events for k in range(len(shape.bad)))
        gauge = isinstance(self.slo.indicator, GaugeIndicator)
        return promsim.model(promsim.Traffic(self.step, events, shape.bad, gauge))

    # -- recorded-window inputs (see generator/proofs/layers.py) ---------------------
    def reads(self, rule: RuleInfo) -> tuple[layers.Read, ...]:
        """The recorded series the model predicts that `rule` reads, through the rules."""
        return layers.reads(rule, self.recordings, self.predicted)

    def recorded_series(self, read: layers.Read) -> str:
        return series_text(read.metric, {**self.series_labels(), **dict(read.labels)})

    def recorded_inputs(
        self, model: promsim.SLOModel, reads: Sequence[layers.Read], k0: int, k1: int
    ) -> tuple[InputSeries, ...]:
        """The model's values of each read series from tick k0 to k1, written exactly: the
        alert compares what promtool parses back with the factor, as the model did."""
        out = []
        for read in reads:
            pieced = self.plan.recipe(read.window) is not None
            values = model.series(read.kind, read.window, pieced)[k0 : k1 + 1]
            out.append(InputSeries(self.recorded_series(read), exact(values)))
        return tuple(out)

    def slice_start(self, first: int, held: Sequence[tuple[promsim.AlertState, float]]) -> int:
        """The first tick a sliced scenario keeps before its first check at `first`: far
        enough back that every alert's `for`, counted from the slice's start, gives the
        same states as the whole scenario (where the condition was false, or tick 0)."""
        longest = max((tick_at_or_after(for_, self.step) for _, for_ in held), default=0)
        k0 = max(0, first - longest - 2)
        while k0 > 0:
            times = [k * self.step for k in range(k0, first + 1)]
            if all(
                promsim.hold(list(st.condition[k0 : first + 1]), times, for_)
                == st.firing[k0 : first + 1]
                for st, for_ in held
            ):
                break
            k0 = max(0, k0 - longest - 1)
        return k0

    def recorded(
        self,
        what: str,
        shape: Shape,
        reads: Sequence[layers.Read],
        checks: Sequence[AlertCheck],
        held: Sequence[tuple[promsim.AlertState, float]],
    ) -> Scenario:
        """A scenario whose inputs are the recorded windows the alerts read, cut to the
        ticks the checks need: no window chain runs and no healthy prefix is evaluated."""
        ticks = [round(c.eval_time / self.step) for c in checks]
        k0 = self.slice_start(min(ticks), held)
        inputs = self.recorded_inputs(self.model(shape), reads, k0, max(ticks))
        shift = k0 * self.step
        moved = tuple(replace(c, eval_time=c.eval_time - shift) for c in checks)
        return Scenario(self.name(what), self.step, inputs, moved)

    def tier_group(
        self,
        what: str,
        shape: Shape,
        states: list[promsim.AlertState],
        i: int,
        ticks: Sequence[tuple[int, int | None, int | None]],
    ) -> Scenario:
        """One tier's test group: it inputs only that tier's windows (and whatever else its
        alert reads), so the alerts that may fire are that tier's and any tier reading a
        subset of them. ticks: (tick, tier that must fire, tier that must be silent)."""
        mine = self.reads(self.tier_rules[i])
        only = {j for j, r in enumerate(self.tier_rules) if set(self.reads(r)) <= set(mine)}
        checks = [self.stable_burn_check(k, states, want, quiet, only) for k, want, quiet in ticks]
        held = [(states[j], self.plan.tiers[j].tier.for_) for j in sorted(only)]
        return self.recorded(what, shape, mine, checks, held)

    # -- checks --------------------------------------------------------------------
    def burn_check(
        self, k: int, states: list[promsim.AlertState], only: set[int] | None = None
    ) -> AlertCheck | None:
        """The exact set of burn alerts firing at tick k; None when a value is ambiguous.

        `only`: the tiers whose inputs the test group carries (the others read nothing)."""
        alerts = []
        for j, (rule, state) in enumerate(zip(self.tier_rules, states, strict=True)):
            if (only is not None and j not in only) or not state.firing[k]:
                continue
            value = state.value[k]
            if not self.stable(rule, value):
                return None
            alerts.append(self.expected(rule, value, self.series_labels()))
        return AlertCheck(k * self.step, self.burn_alert, tuple(sorted(alerts, key=repr)))

    def stable_burn_check(
        self,
        k: int,
        states: list[promsim.AlertState],
        want: int | None,
        quiet: int | None,
        only: set[int] | None = None,
    ) -> AlertCheck:
        """burn_check at tick k or a few ticks later, where every $value renders stably.

        `want`/`quiet`: the index of a tier that must be firing / silent there."""
        for tick in range(k, min(k + 10, len(states[0].firing))):
            if want is not None and not states[want].firing[tick]:
                break
            if quiet is not None and states[quiet].firing[tick]:
                break
            check = self.burn_check(tick, states, only)
            if check is not None:
                return check
        raise _Unstable(f"no stable evaluation time near tick {k} for {self.burn_alert}")

    def check_traffic_guard(self) -> None:
        """A min_traffic guard above what a test series carries cannot be proven here.

        A gauge yields one event per sample, so its guard is met only if the long window
        holds that many samples (at the test's step); counters carry EVENTS_PER_STEP."""
        floor = self.slo.alerting.min_traffic
        per_step = 1.0 if isinstance(self.slo.indicator, GaugeIndicator) else EVENTS_PER_STEP
        for tp in self.tiers:
            carried = per_step * tp.tier.long_window / self.step
            window = f"{tp.tier.key}'s {format_duration(tp.tier.long_window)} window"
            if floor > carried:
                raise Unsupported(
                    f"min_traffic {floor} is more than the {format_number(carried)} events a "
                    f"test series gives in {window}; prove it with a hand-written test"
                )
            # The detection scenarios time the ratio; the failures a burn at the factor
            # puts in the window must already meet the low-traffic guard there.
            failed = tp.factor * self.plan.error_budget * carried
            if tp.min_failed_events > 1 and failed < tp.min_failed_events:
                raise Unsupported(
                    f"min_failed_events {tp.min_failed_events} is more than the "
                    f"{format_number(round(failed, 4))} failures a burn at the factor gives a "
                    f"test series in {window}; prove it with a hand-written test"
                )

    # -- scenarios -------------------------------------------------------------------
    def name(self, what: str) -> str:
        return f"{self.slo.name}: {what}"

    def detection(self, tp: TierPlan) -> Scenario:
        """Good traffic for a long window, then a burn a quarter above the tier's factor."""
        return _first_stable(
            lambda above: self._detection(tp, above), ABOVE, f"{self.burn_alert} {tp.tier.key}"
        )

    def _detection(self, tp: TierPlan, above: float) -> Scenario:
        i = self.plan.tiers.index(tp)
        tier, budget = tp.tier, self.plan.error_budget
        ratio = min(tp.factor * above * budget, (1 + tp.factor * budget) / 2)
        detect = tp.detection_time(ratio, budget)
        assert detect is not None
        onset = tier.long_window
        quiet_k, fire_k = self.fire_window(tp, onset, detect)
        end = (fire_k + 10) * self.step
        shape = Shape.steps(self.step, (onset, 0.0), (end - onset, ratio))
        states = promsim.tier_states(self.plan, self.model(shape))
        first = next((k for k, f in enumerate(states[i].firing) if f), None)
        if first is None or not quiet_k < first <= fire_k:
            raise DesignError(
                f"{self.burn_alert} {tier.key}: model fires at tick {first}, "
                f"the math says in ({quiet_k}, {fire_k}]"
            )
        # The model knows the first firing evaluation exactly (the inputs are its own
        # values), so the test pins it there, one evaluation wide, not just inside the
        # math's bounds: a factor 10% off moves it many evaluations. Where the long
        # window's burn lands within float noise of the factor, one more either way.
        cross = first - tick_at_or_after(tier.for_, self.step)

        def on_line(k: int) -> bool:
            value = states[i].value[k] if k >= 0 else None
            return value is not None and abs(value - tp.factor) <= 1e-9 * tp.factor

        quiet_k, fire_k = first - 1 - on_line(cross - 1), first + on_line(cross)
        burn = format_number(round(ratio / budget, 4))
        what = (
            f"{tier.key} fires {human_duration(fire_k * self.step - onset)} into a "
            f"{burn}x burn (math: {human_duration(detect)})"
        )
        return self.tier_group(what, shape, states, i, [(quiet_k, None, i), (fire_k, i, None)])

    def outage(self) -> list[Scenario]:
        """Good traffic for the longest window, then every event fails.

        A window wholly inside a total outage burns at exactly 1 / budget; when that
        number sits on a rounding edge of an annotation (156.25 as "%.1f", budget 0.64%),
        no evaluation renders stably, and the outage is proven at the first nearly total
        failed share that does."""
        return _first_stable(self._outage, OUTAGE_SHARES, f"an outage of {self.burn_alert}")

    def _outage(self, share: float) -> list[Scenario]:
        """Each tier silent at the last evaluation before the math lets it fire and firing
        at the first one after (plus its `for`): the window is one step wide, so the test
        proves the detection time, not merely an upper bound on it.

        Failures start right after the onset tick; the counters at tick k hold every
        failure up to k * step, so the first sample with failures is the onset's next
        tick and carries one step of them (a scrape interval's worth, as in Prometheus)."""
        onset = max(tp.tier.long_window for tp in self.tiers)
        budget = self.plan.error_budget
        windows = {}
        for tp in self.tiers:
            detect = tp.detection_time(share, budget)
            assert detect is not None
            windows[self.plan.tiers.index(tp)] = (detect, *self.fire_window(tp, onset, detect))
        end = max(fire for _, _, fire in windows.values()) * self.step + self.step
        shape = Shape.steps(self.step, (onset, 0.0), (end - onset, share))
        states = promsim.tier_states(self.plan, self.model(shape))
        out = []
        what = "total outage" if share == 1.0 else f"outage ({format_number(share * 100)}% failing)"
        for i, (detect, quiet, fire) in sorted(windows.items(), key=lambda item: item[1][2]):
            key = self.plan.tiers[i].tier.key
            if states[i].firing[quiet] or not states[i].firing[fire]:
                first = next((k for k, f in enumerate(states[i].firing) if f), None)
                raise DesignError(
                    f"{self.burn_alert} {key}: the model pages a total outage at tick "
                    f"{first}, the math says after tick {quiet} and by tick {fire}"
                )
            timing = (
                f"{key} by {format_duration(fire * self.step - onset)} "
                f"(math: {format_duration(round(detect))})"
            )
            ticks = [(quiet, None, i), (fire, i, None)]
            out.append(self.tier_group(f"{what} fires {timing}", shape, states, i, ticks))
        return out

    def end_to_end_outage(self) -> list[Scenario]:
        """From raw counters through every rule: a total outage after clean traffic pages
        the fastest page tier of this file no earlier than the math allows and within one
        evaluation of it (the 1h/14.4x page of a 99.9% SLO: ~52 s after the first failed
        scrape). Every other alert of the SLO is checked at those evaluations too; traffic
        never stopped."""
        pages = [tp for tp in self.tiers if tp.tier.key.startswith("page")]
        if not pages:
            return []
        budget = self.plan.error_budget
        tp = min(pages, key=lambda t: t.detection_time(1.0, budget) or math.inf)
        return [_first_stable(partial(self._end_to_end, tp), OUTAGE_SHARES, "an outage")]

    def _end_to_end(self, tp: TierPlan, share: float) -> Scenario:
        i = self.plan.tiers.index(tp)
        onset = tp.tier.long_window
        detect = tp.detection_time(share, self.plan.error_budget)
        if detect is None:
            raise DesignError(f"{self.burn_alert} {tp.tier.key} never detects an outage")
        quiet, fire = self.fire_window(tp, onset, detect)
        shape = Shape.steps(self.step, (onset, 0.0), ((fire + 1) * self.step - onset, share))
        states = promsim.tier_states(self.plan, self.model(shape))
        if states[i].firing[quiet] or not states[i].firing[fire]:
            raise DesignError(f"{self.burn_alert} {tp.tier.key}: the model disagrees end to end")
        checks = [
            self.stable_burn_check(quiet, states, None, i),
            self.stable_burn_check(fire, states, i, None),
        ]
        if self.slo.alerting.traffic_stopped:
            alert = conventions.slo_alert(self.service.name, self.slo.name, "TrafficStopped")
            checks.append(AlertCheck(fire * self.step, alert, ()))
        what = "total outage" if share == 1.0 else f"outage ({format_number(share * 100)}% failing)"
        took, math_says = format_duration(fire * self.step - onset), format_duration(round(detect))
        return Scenario(
            self.name(
                f"end to end from raw counters: a {what} fires {tp.tier.key} by {took} "
                f"(math: {math_says})"
            ),
            self.step,
            self.inputs(shape),
            tuple(checks),
        )

    def fire_window(self, tp: TierPlan, onset: float, detect: float) -> tuple[int, int]:
        """(last tick the tier must be silent, first tick it must fire) for a constant
        burn from `onset` that the math detects after `detect` seconds, `for` included.

        Exact windows make the long window's ratio cross the threshold `detect - for`
        after the onset; the comparison is strict, so a crossing on a tick is left open
        (silent the tick before, firing the tick after). Then `for` whole ticks.

        A gauge SLI counts samples, and each 5m copy of a window counts the samples at
        both ends of its range: n + 1 per 5m for n steps, so a gauge's window crosses up
        to (n + 1) / n times later. It must still be silent before the math allows."""
        rise = detect - tp.tier.for_
        cross = (onset + rise) / self.step
        on_tick = abs(cross - round(cross)) < 1e-9
        quiet = round(cross) - 1 if on_tick else math.ceil(cross) - 1
        if isinstance(self.slo.indicator, GaugeIndicator):
            n = BASE_WINDOW_SECONDS / self.step
            cross = (onset + rise * (n + 1) / n) / self.step
            on_tick = abs(cross - round(cross)) < 1e-9
        fire = round(cross) + 1 if on_tick else math.ceil(cross)
        hold = tick_at_or_after(tp.tier.for_, self.step)
        return quiet + hold, fire + hold

    def steady(
        self, burn: float, what: str, must_stay_silent: Sequence[TierPlan]
    ) -> list[Scenario]:
        """A constant burn from the start, checked across every long window and `for`."""
        ratio = burn * self.plan.error_budget
        longest = max(tp.tier.long_window + tp.tier.for_ for tp in self.tiers)
        # On a tick: a `for` that is no multiple of the step (2m in a 5m-step file) must
        # not put the last check after the last sample.
        end = tick_at_or_after(longest + BASE_WINDOW_SECONDS + 2 * self.step, self.step) * self.step
        shape = Shape.steps(self.step, (end, ratio))
        states = promsim.tier_states(self.plan, self.model(shape))
        silent = [self.plan.tiers.index(tp) for tp in must_stay_silent]
        for i in silent:
            if any(states[i].firing):
                raise DesignError(
                    f"{self.burn_alert} {self.plan.tiers[i].tier.key} fires at {burn}x"
                )
        # Every window full and at the burn: the most any window reads under it (each
        # rises to it and stays), so silence here is silence all along.
        k = round(end / self.step)
        return [
            self.tier_group(
                f"{what} ({tp.tier.key}'s windows)", shape, states, i, [(k, None, None)]
            )
            for i, tp in enumerate(self.plan.tiers)
            if tp in self.tiers
        ]

    def all(self) -> list[Scenario]:
        if not self.tiers:
            return []
        self.check_traffic_guard()
        out = [self.detection(tp) for tp in self.tiers]
        out.extend(self.guards())
        out.extend(self.outage())
        lowest = min(tp.factor for tp in self.plan.tiers)
        below = format_number(round(lowest * BELOW, 4))
        out.extend(
            self.steady(
                lowest * BELOW,
                f"a steady {below}x burn, below every tier's factor, never fires",
                self.tiers,
            )
        )
        out.extend(self.budget_scenarios())
        out.extend(self.low_traffic())
        if not self.long:
            out.extend(self.sustainable())
            out.extend(self.end_to_end_outage())
            out.extend(self.base())
            out.extend(self.no_data())
            if not isinstance(self.slo.indicator, GaugeIndicator):
                out.append(self.zero_traffic())
        return out

    # -- the failed-events guard, at its count -----------------------------------------
    def guards(self) -> list[Scenario]:
        """Per tier with a failed-events guard: good traffic for a long window, then every
        event fails, at a traffic low enough that the tier's ratios cross before its k-th
        failure. Silent at the evaluation before the k-th failure counts, firing at it:
        the guard's count, its window and its k, each proven (the detection scenarios
        carry so many failures that the guard never decides there)."""
        if isinstance(self.slo.indicator, GaugeIndicator):
            return []  # a gauge's events are samples, partly failing: no whole count
        out = []
        for tp in self.tiers:
            if tp.min_failed_events > 1:
                found = self._guard(tp)
                if found is not None:
                    out.append(found)
        return out

    def _guard(self, tp: TierPlan) -> Scenario | None:
        """None where the guard does not decide at any such traffic (min_traffic silences
        it, or the short window would hold no event)."""
        i = self.plan.tiers.index(tp)
        tier, k = tp.tier, tp.min_failed_events
        # One event every `every` ticks: the long window's ratio crosses the factor at
        # fewer than k failures (factor x budget x events in the window < k - 1).
        in_window = tier.long_window / self.step
        every = math.floor(in_window * tp.factor * self.plan.error_budget / (k - 1)) + 1
        if every * self.step > tier.short_window:
            return None
        onset = tick_at_or_after(tier.long_window, self.step)
        onset += -onset % every
        end = onset + every * (k + 2) + tick_at_or_after(tier.for_, self.step) + 2
        shape = Shape(tuple([0.0] * (onset + 1) + [1.0] * (end - onset)), 1.0, every)
        model = self.model(shape)
        states = promsim.tier_states(self.plan, model)
        free = promsim.tier_states(self.unguarded, model)
        first = next((j for j, f in enumerate(states[i].firing) if f), None)
        early = next((j for j, f in enumerate(free[i].firing) if f), None)
        if first is None or early is None or early >= first:
            return None
        gap = human_duration(every * self.step)
        what = (
            f"{tier.key} waits for its {k} failed events in {format_duration(tier.long_window)}"
            f" (events {gap} apart, all failing)"
        )
        try:
            return self.tier_group(what, shape, states, i, [(first - 1, None, i), (first, i, None)])
        except _Unstable:
            return None  # a $value on a rounding edge: the detection scenarios time the tier

    # -- low traffic: one failure against an outage ------------------------------------
    def low_traffic(self) -> list[Scenario]:
        """At a traffic where one failure alone is a burn above every page tier's factor
        (plan.low_traffic), one failed event fires no tier of this file, and (fast file)
        a total outage pages within plan.LOW_TRAFFIC_DETECTION."""
        rate = plan_math.low_traffic(self.plan)
        if rate is None:
            return []
        out = []
        # Every tier guarded: the checks name the alert, whose rules are all the tiers'.
        if self.tiers and all(tp.min_failed_events > 1 for tp in self.plan.tiers):
            one = self.one_failure(rate)
            if one is not None:
                out.append(one)
        # The outage is proven in the file that holds the page tier to fire first
        # (plan.low_traffic vouches for its time): a tuned page tier over a day sits in
        # the long file, and the fast file's page tiers alone may page too late.
        pages = plan_math.page_tiers(self.plan)
        first, _ = plan_math.outage_page(pages, self.plan.error_budget, rate)
        if first in self.tiers:
            out.append(self.low_traffic_outage(rate, [tp for tp in pages if tp in self.tiers]))
        return out

    def low_shape(self, rate: float, bad: list[float]) -> Shape:
        """`rate` events a second at this step: rate x step events every tick, or under
        one a tick, one event every 1 / (rate x step) ticks (plan.low_traffic keeps that
        a whole number), so that a failure is always a whole event."""
        per_step = rate * self.step
        if per_step >= 1 - 1e-9:
            return Shape(tuple(bad), events=round(per_step, 9))
        every = round(1 / per_step)
        if abs(every * per_step - 1) > 1e-9:
            raise DesignError(f"{self.burn_alert}: {rate * 60} events a minute is no whole gap")
        return Shape(tuple(bad), events=1.0, every=every)

    def one_failure(self, rate: float) -> Scenario | None:
        """An hour of good traffic, one failed event, good traffic until it has left every
        short window: no burn alert fires at any evaluation, checked at every evaluation
        at which a tier of this file would fire without the guard (the model's). None
        when no tier here would (a tuned ticket tier, say): nothing to show."""
        warm = tick_at_or_after(LOW_TRAFFIC_WARM, self.step)
        after = max(tp.tier.short_window for tp in self.tiers) + 2 * self.step
        bad = [0.0] * (warm + tick_at_or_after(after, self.step) + 1)
        shape = self.low_shape(rate, bad)
        warm += -warm % shape.every  # the failure is one of the events
        bad[warm] = 1 / shape.events
        shape = replace(shape, bad=tuple(bad))
        traffic = self.model(shape)
        states = promsim.tier_states(self.plan, traffic)
        without = promsim.tier_states(self.unguarded, traffic)
        ticks: set[int] = set()
        would = []
        if any(any(state.firing) for state in states):
            raise DesignError(f"{self.burn_alert}: one failure fires it")
        for tp in self.tiers:
            firing = [k for k, f in enumerate(without[self.plan.tiers.index(tp)].firing) if f]
            if firing:
                ticks.update(firing)
                would.append(tp.tier.key)
        if not would:
            return None
        checks = tuple(AlertCheck(k * self.step, self.burn_alert, ()) for k in sorted(ticks))
        per_minute = format_number(round(rate * 60, 4))
        return Scenario(
            self.name(
                f"one failed event at {per_minute} events/min fires nothing "
                f"(without the guard: {', '.join(would)})"
            ),
            self.step,
            self.inputs(shape),
            checks,
        )

    def low_traffic_outage(self, rate: float, pages: list[TierPlan]) -> Scenario:
        """An hour of good traffic, then every event fails: the first page tier fires at
        the tick the plan's math says (its ratio and its failures both there), within
        LOW_TRAFFIC_DETECTION, and nothing fires one evaluation before."""
        onset = tick_at_or_after(LOW_TRAFFIC_WARM, self.step)
        first_tp, detect = plan_math.outage_page(pages, self.plan.error_budget, rate)
        if first_tp is None or detect is None or detect > plan_math.LOW_TRAFFIC_DETECTION:
            raise DesignError(f"{self.burn_alert}: an outage at low traffic pages too late")
        end = onset + tick_at_or_after(detect, self.step) + 3
        bad = [0.0] * (onset + 1) + [1.0] * (end - onset)
        shape = self.low_shape(rate, bad)
        states = promsim.tier_states(self.plan, self.model(shape))
        i = self.plan.tiers.index(first_tp)
        paged = [
            k
            for k in range(len(bad))
            if any(states[self.plan.tiers.index(tp)].firing[k] for tp in pages)
        ]
        first = paged[0] if paged else None
        # Whole failures per tick: the guard is met on a tick; a ratio crossing on one is
        # strict, so the tick after. Either way within a step of the math.
        if (
            first is None
            or not states[i].firing[first]
            or abs((first - onset) * self.step - detect) > self.step + 1e-9
        ):
            raise DesignError(
                f"{self.burn_alert} {first_tp.tier.key}: the model pages a low-traffic outage "
                f"at tick {first}, the math says {format_duration(detect)} after tick {onset}"
            )
        # The exact alerts at both ticks: a ticket tier may fire first (a tuned policy).
        checks = (
            self.stable_burn_check(first - 1, states, None, i),
            self.stable_burn_check(first, states, i, None),
        )
        per_minute = format_number(round(rate * 60, 4))
        return Scenario(
            self.name(
                f"a total outage at {per_minute} events/min fires {first_tp.tier.key} by "
                f"{format_duration((first - onset) * self.step)} "
                f"(math: {format_duration(round(detect))})"
            ),
            self.step,
            self.inputs(shape),
            checks,
        )

    # -- sustainable burn, budget, no data, zero traffic (fast file) ------------------
    def sustainable(self) -> list[Scenario]:
        """A steady burn of 1x, which spends the budget exactly over the period, pages
        nobody. A tier whose factor is 1 (ticket_slow on 30d) sits on the line at 1x,
        where float rounding decides; a hair below keeps the expectation exact. A page
        whose factor is below 1 does fire there: it is left out of the claim."""
        burn = next(
            b for b in SUSTAINABLE if all(abs(tp.factor - b) >= 0.005 for tp in self.plan.tiers)
        )
        pages = [tp for tp in self.tiers if tp.tier.key.startswith("page")]
        quiet = [tp for tp in pages if tp.factor > burn]
        if not quiet and pages:
            return []
        shown = format_number(burn)
        what = f"a steady {shown}x burn never pages"
        if len(quiet) < len(pages):
            what = f"a steady {shown}x burn never fires {', '.join(tp.tier.key for tp in quiet)}"
        return self.steady(burn, what, quiet)

    def budget_in_long_file(self, b: BudgetAlert) -> bool:
        """Whether a budget alert is proven in the 5-minute-step file: where the SLO has
        one and the outage that spends the level is many 5m ticks long (low objectives:
        hours or days), so a tick is a small share of it; short outages (a 99.95% budget
        is 22 minutes) keep the 1-minute step."""
        spend = b.consumed_percent / 100 * self.plan.error_budget * self.slo.period
        has_long = any(is_long(tp) for tp in self.plan.tiers)
        return has_long and spend >= BUDGET_LONG_TICKS * LONG_STEP

    def budget_scenarios(self) -> list[Scenario]:
        """Each budget alert 5% past its level fires, 5% short of it stays silent. The
        alert starts firing where the spend crosses the level, whatever the margin: when
        its $value sits on a rounding edge there, a slightly partial outage (a
        different slope) moves the crossing off it."""
        out = []
        for b in self.slo.alerting.budget_alerts:
            if self.budget_in_long_file(b) != self.long:
                continue
            make = partial(self._budget_scenario, b, 1 + LEVEL_MARGIN)
            out.append(_first_stable(make, self.budget_shares(b), b.key))
            # Short of the level at the same slow spend: a gauge counts the samples at
            # both ends of each 5m copy, which overstates a few-minute outage (99.98%
            # over 28d: 6 minutes) by more than the margin, and a long one by little.
            share = self.budget_shares(b)[0]
            out.append(self._budget_scenario(b, 1 - LEVEL_MARGIN, share))
        return out

    def budget_shares(self, b: BudgetAlert) -> tuple[float, ...]:
        """Failed shares for the outage that crosses a budget level: slow enough that one
        evaluation spends at most half of a tenth of the budget left at the level (2%
        of the budget for ErrorBudgetLow at 80%), so a level 10% off crosses at another
        evaluation; at most half an outage."""
        left = 1 - b.consumed_percent / 100
        share = BUDGET_OUTAGE_SHARE
        if left > 0:
            share = min(
                share, 0.1 * left * self.plan.error_budget * self.slo.period / (2 * self.step)
            )
        return tuple(round(share * f, 6) for f in BUDGET_SHARE_TRIES)

    def _budget_scenario(self, b: BudgetAlert, factor: float, share: float = 1.0) -> Scenario:
        """An outage (`share` of events failing) spends `factor` x the alert's share of
        the budget. The budget counts the whole period (missing history is no spend), so
        that takes that share of budget x period / `share` seconds, not a few minutes of
        history. Above the level the alert fires once the crossing has held for `for`;
        below it, the outage stops short and good traffic follows, for `for` and more:
        silent."""
        what = "ErrorBudgetExhausted" if b.key == "budget_exhausted" else "ErrorBudgetLow"
        alert = conventions.slo_alert(self.service.name, self.slo.name, what)
        rule = self._rule(alert, severity=b.severity)
        i = self.slo.alerting.budget_alerts.index(b)
        spend = b.consumed_percent / 100 * factor * self.plan.error_budget * self.slo.period
        outage = spend / share
        # Whole ticks: the outage's own rounding must not cross the level either way.
        ticks = (
            tick_at_or_after(outage, self.step) if factor > 1 else math.floor(outage / self.step)
        )
        outage = ticks * self.step
        # Good traffic first. Counters born at tick 0 fill the first 5m piece of history
        # only partly, and the budget counts it whole: the observed traffic is understated
        # by up to 5m in the history. A history long enough keeps that well inside the
        # margin around the level (a real deployment's counters predate the rules).
        warm = max(2 * BASE_WINDOW_SECONDS, 2 * BASE_WINDOW_SECONDS / LEVEL_MARGIN - outage)
        warm = tick_at_or_after(warm, self.step) * self.step
        after = 2 * BASE_WINDOW_SECONDS + b.for_
        side = "above" if factor > 1 else "below"
        if side == "above":
            shape = Shape.steps(self.step, (warm, 0.0), (outage + after, share))
        else:
            shape = Shape.steps(self.step, (warm, 0.0), (outage, share), (after, 0.0))
        end = (len(shape.bad) - 1) * self.step
        state = promsim.budget_states(self.plan, self.model(shape))[i]
        level = round(1 - b.consumed_percent / 100, 12)
        checks = []
        if side == "above":
            crossed = next(
                (k for k, v in enumerate(state.value) if v is not None and v <= level), None
            )
            if crossed is None:
                raise DesignError(f"{alert}: never reaches its level")
            # A spend that lands on the level itself (a whole number of ticks spends the
            # budget exactly) is decided by float noise, in the model and in Prometheus.
            near = [v for v in state.value[crossed - 1 : crossed + 1] if v is not None]
            if any(abs(v - level) < 1e-9 for v in near):
                raise _Unstable(f"{alert}: the spend lands on its level")
            fire_k = crossed + tick_at_or_after(b.for_, self.step)
            if not state.firing[fire_k] or (fire_k > 0 and state.firing[fire_k - 1]):
                raise DesignError(f"{alert}: fires at the wrong time")
            checks.append(AlertCheck((fire_k - 1) * self.step, alert, ()))
            value = state.value[fire_k]
            if not self.stable(rule, value):
                raise _Unstable(f"{alert}: unstable value {value}")
            labels = self.series_labels()
            checks.append(
                AlertCheck(fire_k * self.step, alert, (self.expected(rule, value, labels),))
            )
        elif any(state.firing):
            raise DesignError(f"{alert}: fires below its level")
        else:
            checks.append(AlertCheck(end, alert, ()))
        pct = format_number(round(b.consumed_percent * factor, 4))
        return self.recorded(
            f"{what} {side} its level ({pct}% of the budget spent)",
            shape,
            self.reads(rule),
            checks,
            [(state, b.for_)],
        )

    def base(self) -> list[Scenario]:
        """The bottom layer, from raw counters: slo:sli_events:rate5m by events label and
        its error ratio, while no sample is 5m old (rate() with Prometheus' extrapolation)
        and after (what the counters gained), as the model predicts; and, for a ratio SLI
        with an errors selector, an error series that never appeared counts 0 errors."""
        ticks = round(2 * BASE_WINDOW_SECONDS / self.step)
        # Rates in binary fractions (75 events a minute, a quarter failing): promtool
        # compares samples exactly, and an SLI read as total minus good stays exact.
        shape = Shape(tuple([0.0] + [0.25] * ticks), events=75.0)
        model = self.model(shape)
        labels = self.series_labels()
        early, late = 2, ticks
        checks = []
        for k in (early, late):
            samples = []
            for kind in (conventions.EVENTS_TOTAL, conventions.EVENTS_ERRORS):
                value = model.series(kind, BASE_WINDOW_SECONDS)[k]
                assert value is not None
                samples.append(
                    (series_text(conventions.SLI_EVENTS, {**labels, "events": kind}), value)
                )
            samples.append(
                (series_text(conventions.SLI_EVENTS, {**labels, "events": "history"}), 1.0)
            )
            expr = series_text(conventions.SLI_EVENTS, labels)
            checks.append(ExprCheck(expr, k * self.step, tuple(sorted(samples))))
            ratio = model.ratios(BASE_WINDOW_SECONDS)[k]
            assert ratio is not None
            text = series_text(conventions.error_ratio(BASE_WINDOW_SECONDS), labels)
            checks.append(ExprCheck(text, k * self.step, ((text, ratio),)))
        out = [
            Scenario(
                self.name(
                    "raw counters to the 5m rates: rate() before a sample is 5m old, then the gain"
                ),
                self.step,
                self.inputs(shape),
                (),
                tuple(checks),
            )
        ]
        ind = self.slo.indicator
        if isinstance(ind, RatioIndicator) and ind.errors is not None:
            quiet = Shape(tuple([0.0] * (ticks + 1)))
            inputs = self.inputs(quiet)
            # The series the total selector reads and the errors selector does not.
            total_only = inputs[:1] if ind.errors.metric != ind.total.metric else inputs[1:]
            if total_only:
                expr = series_text(conventions.SLI_EVENTS, {**labels, "events": "errors"})
                out.append(
                    Scenario(
                        self.name("an error series that never appeared counts 0 errors"),
                        self.step,
                        total_only,
                        (),
                        (ExprCheck(expr, late * self.step, ((expr, 0.0),)),),
                    )
                )
        return out

    def no_data(self) -> list[Scenario]:
        nd = self.slo.alerting.no_data
        alert = conventions.slo_alert(self.service.name, self.slo.name, "SLINoData")
        checks = [AlertCheck(2 * BASE_WINDOW_SECONDS, self.burn_alert, ())]
        if nd is not None:
            rule = self._rule(alert)
            base = {
                conventions.SERVICE_LABEL: self.service.name,
                conventions.SLO_LABEL: self.slo.name,
            }
            fire = tick_at_or_after(nd.for_, self.step) * self.step
            checks += [
                AlertCheck(fire - self.step, alert, ()),
                AlertCheck(fire, alert, (self.expected(rule, None, base),)),
            ]
        # A series of another name keeps the test group from being empty.
        filler = InputSeries(series_text("promspec_test_unrelated", {}), expanding([0.0] * 3))
        out = [
            Scenario(
                self.name("no SLI data fires SLINoData, never a burn alert"),
                self.step,
                (filler,),
                tuple(checks),
            )
        ]
        if nd is not None:
            out.append(self.data_stops(nd.for_, alert, self.expected(rule, None, base)))
        return out

    def data_stops(self, for_: float, alert: str, expected: ExpectedAlert) -> Scenario:
        """The SLI's series stop after 10 minutes of traffic. The last sample stays
        visible for the 5m lookback, so the 5m rate is gone from 6m after it on (a rule
        reading a longer window would still see data for that window), and SLINoData
        fires once that has held for its `for`; not before 4m + `for`."""
        stop = round(2 * BASE_WINDOW_SECONDS / self.step)
        shape = Shape(tuple([0.0] * (stop + 1)))
        last = stop * self.step
        gone = last + BASE_WINDOW_SECONDS + self.step
        fire = tick_at_or_after(gone + for_, self.step) * self.step
        quiet = last + BASE_WINDOW_SECONDS - self.step + for_
        return Scenario(
            self.name("the SLI's series stop: SLINoData fires once the 5m rate is gone for `for`"),
            self.step,
            self.inputs(shape),
            (AlertCheck(quiet, alert, ()), AlertCheck(fire, alert, (expected,))),
        )

    def zero_traffic(self) -> Scenario:
        """No events at all: every ratio is 0 (never NaN) and nothing fires but
        TrafficStopped, where it is on: once the 5m rate has been 0 for its `for`."""
        windows = sorted({*self.plan.fast_windows, *self.plan.slow_windows, self.slo.period})
        # Without events every window reads 0 from the first samples on, whatever its
        # length, so the scenario lasts until every alert here could have fired: each
        # tier's and the no-data alert's `for`, after the 5m rate has two samples.
        nd, ts = self.slo.alerting.no_data, self.slo.alerting.traffic_stopped
        waits = [tp.tier.for_ for tp in self.tiers] + [a.for_ for a in (nd, ts) if a]
        end = 2 * BASE_WINDOW_SECONDS + max(waits) + self.step
        shape = Shape(tuple([0.0] * (round(end / self.step) + 1)), events=0.0)
        labels = self.series_labels()
        exprs = []
        for name, value in [
            *[(conventions.error_ratio(w), 0.0) for w in windows],
            (conventions.ERROR_BUDGET_REMAINING, 1.0),
        ]:
            text = series_text(name, labels)
            exprs.append(ExprCheck(text, end, ((text, value),)))
        checks = [AlertCheck(end, self.burn_alert, ())]
        if self.slo.alerting.no_data:
            checks.append(
                AlertCheck(
                    end, conventions.slo_alert(self.service.name, self.slo.name, "SLINoData"), ()
                )
            )
        what = "zero traffic: every ratio is 0, not NaN, and nothing fires"
        if ts:
            alert = conventions.slo_alert(self.service.name, self.slo.name, "TrafficStopped")
            model = self.model(shape)
            stopped = [total is not None and total == 0 for total in model.total]
            firing = promsim.hold(stopped, model.times, ts.for_)
            fire_k = firing.index(True)
            rule = self._rule(alert)
            checks += [
                AlertCheck((fire_k - 1) * self.step, alert, ()),
                AlertCheck(fire_k * self.step, alert, (self.expected(rule, 0.0, labels),)),
            ]
            what = "zero traffic: every ratio is 0, not NaN; only TrafficStopped fires"
        return Scenario(
            self.name(what),
            self.step,
            self.inputs(shape),
            tuple(checks),
            tuple(exprs),
        )


def slo_scenarios(
    service: Service, plans: Sequence[SLOPlan], rules: list[RuleInfo], long: bool
) -> list[Scenario]:
    out: list[Scenario] = []
    for plan in plans:
        out.extend(_shared(service, plan, rules, long))
    return out


# -- sharing: the scenarios of one SLO shape, relabelled per SLO ---------------------
#
# An SLO's scenarios are a function of numbers (objective, period, tiers, budget and
# no-data alerts, min_traffic, the indicator's kind) and of names (service, SLO,
# selectors, the rendered rules' labels and annotations). The numbers are the costly
# part, and most SLOs of a repo share them. _Recorder runs the scenario code above,
# unchanged, once per shape, with the names left as placeholders; _Recipe.relabel fills
# them in with each SLO's own methods (inputs, expected, name). The key is the plan
# with only names blanked, so a field added to the model is part of it by default.
# Anything unexpected falls back to the plain computation: sharing may cost time, it
# never changes the output (tests/test_proofs.py compares both on every SLO).

_MARK = "\x00"  # never in a name: placeholders start with it
_ALERTS = ("ErrorBudgetBurn", "ErrorBudgetExhausted", "ErrorBudgetLow", "SLINoData")
_NO_ORIGIN = Origin("", 0, 0, "")
_Key = tuple[bool, SLOPlan]
_Lookup = tuple[str, dict[str, str]]  # (alert kind, labels): one _rule call
_Forms = tuple[tuple[tuple[str, str], ...], ...]
_LOOKUPS: dict[_Key, tuple[_Lookup, ...]] = {}
_RECIPES: dict[tuple[_Key, _Forms], _Recipe | None] = {}  # None: not shareable


class _NotShared(Exception):
    """These scenarios cannot be relabelled: compute them."""


def _blank_indicator(ind: Indicator) -> Indicator:
    """What of an indicator the scenarios' numbers depend on: its kind and layout."""
    none = Selector("", ())
    if isinstance(ind, GaugeIndicator):
        return GaugeIndicator(none)
    if isinstance(ind, LatencyIndicator):
        return LatencyIndicator(none, 0.0, ())
    part = ind.errors or ind.good
    assert part is not None
    same = Selector("total" if part.metric == ind.total.metric else "part", ())
    return RatioIndicator(
        Selector("total", ()), same if ind.errors else None, same if ind.good else None
    )


def _key(plan: SLOPlan, long: bool) -> _Key:
    """The plan with its names, selectors and origins blanked; everything else kept."""
    slo = plan.slo
    alerting = replace(
        slo.alerting,
        tiers=tuple(replace(t, origin=_NO_ORIGIN) for t in slo.alerting.tiers),
        budget_alerts=tuple(replace(b, origin=_NO_ORIGIN) for b in slo.alerting.budget_alerts),
    )
    blank = replace(
        slo,
        name="",
        description="",
        origin=_NO_ORIGIN,
        group_by=("",) if slo.group_by else (),  # names only, but present or not matters
        indicator=_blank_indicator(slo.indicator),
        alerting=alerting,
    )
    tiers = tuple(replace(tp, tier=replace(tp.tier, origin=_NO_ORIGIN)) for tp in plan.tiers)
    return long, replace(plan, slo=blank, tiers=tiers)


def _forms(rule: RuleInfo) -> tuple[tuple[str, str], ...]:
    """What of a rule's annotations decides whether a value renders stably."""
    found = {f for text in rule.annotations.values() for f in promtemplate.value_forms(text)}
    return tuple(sorted(found))


def _alert_names(service: Service, slo_name: str) -> dict[str, str]:
    return {conventions.slo_alert(service.name, slo_name, w): w for w in _ALERTS}


def _slo_base(sc: SLOScenarios) -> dict[str, str]:
    return {conventions.SERVICE_LABEL: sc.service.name, conventions.SLO_LABEL: sc.slo.name}


def _texts(sc: SLOScenarios) -> tuple[str, ...]:
    """The series names and labels of the SLO's inputs (they do not depend on the shape)."""
    return tuple(s.series for s in SLOScenarios.inputs(sc, Shape((0.0,))))


class _Recorder(SLOScenarios):
    """The scenario code as it is, with names, inputs and expected alerts as placeholders."""

    def __init__(self, service: Service, plan: SLOPlan, rules: list[RuleInfo], long: bool):
        self.kinds = _alert_names(service, plan.slo.name)
        self.lookups: list[_Lookup] = []
        self.picked: dict[int, int] = {}  # id(rule) -> its lookup
        self.expects: list[tuple[int, float | None, bool]] = []  # lookup, value, series base
        self.texts: tuple[str, ...] | None = None
        super().__init__(service, plan, rules, long)

    def _rule(self, alert: str, **labels: str) -> RuleInfo:
        rule = super()._rule(alert, **labels)
        if id(rule) not in self.picked:
            self.picked[id(rule)] = len(self.lookups)
            self.lookups.append((self.kinds[alert], labels))
        return rule

    def name(self, what: str) -> str:
        return _MARK + what

    def recorded_series(self, read: layers.Read) -> str:
        own = _slo_base(self)
        if any(own.get(k, v) != v for k, v in read.labels):
            raise _NotShared
        extra = [[k, v] for k, v in read.labels if k not in own]
        return _MARK + "@" + json.dumps([read.metric, extra])

    def inputs(self, shape: Shape) -> tuple[InputSeries, ...]:
        real = super().inputs(shape)
        if self.texts is None:
            self.texts = _texts(self)
        if tuple(s.series for s in real) != self.texts:
            raise _NotShared
        return tuple(InputSeries(f"{_MARK}{i}", s.values) for i, s in enumerate(real))

    def expected(self, rule: RuleInfo, value: float | None, base: dict[str, str]) -> ExpectedAlert:
        if id(rule) not in self.picked or base not in (self.series_labels(), _slo_base(self)):
            raise _NotShared
        self.expects.append((self.picked[id(rule)], value, base == self.series_labels()))
        return ExpectedAlert(((_MARK, str(len(self.expects) - 1)),), ())

    def recipe(self) -> _Recipe:
        scenarios = tuple(self.all())
        labels = self.series_labels()
        for s in scenarios:
            if not s.name.startswith(_MARK) or any(
                c.alertname not in self.kinds for c in s.alert_checks
            ):
                raise _NotShared
            for e in s.expr_checks:
                texts = [e.expr, *(t for t, _ in e.samples)]
                if any(_own_labels(t, labels) is None for t in texts):
                    raise _NotShared
        kinds = {c.alertname: self.kinds[c.alertname] for s in scenarios for c in s.alert_checks}
        return _Recipe(scenarios, tuple(self.expects), kinds, labels)


@dataclass(frozen=True)
class _Recipe:
    scenarios: tuple[Scenario, ...]
    expects: tuple[tuple[int, float | None, bool], ...]
    kinds: dict[str, str]  # recorded alert name -> its kind
    labels: dict[str, str]  # the recorded SLO's series labels

    def relabel(self, sc: SLOScenarios, rules: list[RuleInfo]) -> list[Scenario]:
        """The recorded scenarios with the names of `sc`'s SLO; `rules`: its lookups."""
        names = _alert_names(sc.service, sc.slo.name)
        alert = {
            recorded: n
            for n, kind in names.items()
            for recorded, k in self.kinds.items()
            if k == kind
        }
        labels = sc.series_labels()
        texts: tuple[str, ...] | None = None
        out = []
        for s in self.scenarios:
            series = []
            for i in s.series:
                if i.series.startswith(_MARK + "@"):
                    metric, extra = json.loads(i.series[2:])
                    read = layers.Read(metric, "", 0.0, tuple((k, v) for k, v in extra))
                    i = InputSeries(sc.recorded_series(read), i.values)
                elif i.series.startswith(_MARK):
                    texts = texts or _texts(sc)
                    i = InputSeries(texts[int(i.series[1:])], i.values)
                series.append(i)
            checks = []
            for c in s.alert_checks:
                alerts = []
                for a in c.alerts:
                    lookup, value, series_base = self.expects[int(a.labels[0][1])]
                    base = labels if series_base else _slo_base(sc)
                    alerts.append(sc.expected(rules[lookup], value, base))
                checks.append(
                    AlertCheck(c.eval_time, alert[c.alertname], tuple(sorted(alerts, key=repr)))
                )
            exprs = []
            for e in s.expr_checks:
                samples = tuple((_relabelled(t, self.labels, labels), v) for t, v in e.samples)
                expr = _relabelled(e.expr, self.labels, labels)
                exprs.append(ExprCheck(expr, e.eval_time, samples))
            out.append(
                Scenario(sc.name(s.name[1:]), s.step, tuple(series), tuple(checks), tuple(exprs))
            )
        return out


def _shared(service: Service, plan: SLOPlan, rules: list[RuleInfo], long: bool) -> list[Scenario]:
    """SLOScenarios(...).all(), from the scenarios of the first SLO of the same shape."""
    key = _key(plan, long)
    try:
        lookups = _LOOKUPS.get(key)
        if lookups is not None:
            sc = SLOScenarios(service, plan, rules, long)
            picked = [sc._rule(_alert_by_kind(sc, kind), **labels) for kind, labels in lookups]
            full = (key, tuple(_forms(r) for r in picked))
            if full in _RECIPES:
                recipe = _RECIPES[full]
                if recipe is None:
                    return sc.all()
                return recipe.relabel(sc, picked)
        recorder = _Recorder(service, plan, rules, long)
        try:
            recipe = recorder.recipe()
        except _NotShared:
            recipe = None
        lookups = _LOOKUPS.setdefault(key, tuple(recorder.lookups))
        sc = SLOScenarios(service, plan, rules, long)
        picked = [sc._rule(_alert_by_kind(sc, kind), **labels) for kind, labels in lookups]
        _RECIPES[(key, tuple(_forms(r) for r in picked))] = recipe
        if recipe is None:
            return sc.all()
        return recipe.relabel(sc, picked)
    except Exception:  # the plain computation raises it again, or succeeds
        return SLOScenarios(service, plan, rules, long).all()


def _own_labels(text: str, labels: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """A series text as (metric, labels other than the SLO's), when it carries exactly the
    SLO's series labels and is written as series_text writes it; else None."""
    metric, matchers = plain_selector(text)
    have = {m.name: m.value for m in matchers}
    if any(have.get(k) != v for k, v in labels.items()):
        return None
    extra = {k: v for k, v in have.items() if k not in labels}
    return (metric, extra) if series_text(metric, {**labels, **extra}) == text else None


def _relabelled(text: str, old: dict[str, str], new: dict[str, str]) -> str:
    found = _own_labels(text, old)
    assert found is not None  # recipe() checked every text
    return series_text(found[0], {**new, **found[1]})


def _alert_by_kind(sc: SLOScenarios, kind: str) -> str:
    return conventions.slo_alert(sc.service.name, sc.slo.name, kind)
