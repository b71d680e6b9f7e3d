"""Scenarios for threshold, capacity, freshness, expiry and absence alerts. Pure.

Each alert name is simulated with generator/proofs/rulesim.py over synthetic input: its rules
are written here from the model (levels, `for`, formulas), so a template that renders
them wrong fails its proof. Every expectation (which levels fire, their labels, the
`$value` in their annotations) comes from that simulation; promtool then checks it
against Prometheus itself.

  thresholds, capacity headroom, exhaustion: per level, the left-hand side driven just
    past the level (a few percent) fires once `for` has passed, and silent one evaluation
    before; just short of the level it is silent at the end of the scenario;
  freshness and expiry: a constant timestamp, so the age (time left) crosses each level
    between two evaluations: silent until `for` after the crossing, firing after;
  absence: a healthy series stays silent; a down target and no series fire after `for`.

What the model cannot drive (a function it does not know, data from a week ago, a value
that never renders stably) is listed as not proven with the reason, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from generator import conventions
from generator.promql.fragments import Matcher, grouping_labels, selector_text
from generator.proofs import promeval, promtemplate
from generator.proofs.proofdata import AlertCheck, ExpectedAlert, InputSeries, Scenario, alert_rules
from generator.proofs.rulesim import (
    Case,
    Family,
    Firing,
    Rule,
    comparison,
    families,
    selectors,
    solve,
)
from generator.proofs.scenarios import FAST_STEP
from generator.proofs.series import SYNTHETIC_VALUE, Unsupported, expanding, series_text
from generator.spec.model import Absence, Capacity, Check, Expiry, Freshness, Service, Threshold
from generator.units import format_duration, format_number, human_duration, is_number

STEP = FAST_STEP  # these scenarios go in the fast test file
MAX_SETTLE = 600.0  # scenarios read at most 10m back: windows beyond that are cut short
MARGINS = (0.05, 0.0525, 0.06, 0.0475)  # "just past the level", tried until values render stably
CROSS_TICK = 2  # freshness/expiry: the level is crossed between ticks 1 and 2
MAX_FOR = 3600.0  # a longer `for` needs a scenario too long for the fast test file


class Design:
    """A service's checks as the model means them, with the rendered rules' labels.

    The rules a Case simulates are written here from the model (levels, `for`, the
    expression), not read back from the rendered file: a template that renders a wrong
    level or a wrong formula then fails its proof. Labels and annotations come from the
    rendered alert of the same severity, as for the SLO proofs."""

    def __init__(self, service: Service, rules: dict[str, Any]) -> None:
        self.service = service
        self.infos = alert_rules(rules)
        groups = rules["groups"]
        self.recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}

    def sel(self, metric: str, check: Check) -> str:
        return selector_text(
            metric,
            (
                Matcher(conventions.SERVICE_LABEL, "=", self.service.name),
                Matcher(conventions.CHECK_LABEL, "=", check.name),
            ),
        )

    def case(
        self,
        alert: str,
        check: Check,
        records: Sequence[tuple[str, str]],
        alerts: Sequence[tuple[str, str, float]],
        extra: dict[str, str],
        last: Sequence[str] = (),
    ) -> Case:
        """Records (name, expr) labelled with the check, then the alert's rules
        (expr, severity, for), in the order the rule group evaluates them.

        Inputs of the metrics in `last` are varied last (a capacity's limit: the usage
        should grow, not the limit)."""
        own = tuple(
            sorted(
                {
                    conventions.SERVICE_LABEL: self.service.name,
                    conventions.CHECK_LABEL: check.name,
                }.items()
            )
        )
        rules = [Rule(name, False, promeval.parse(text), own) for name, text in records]
        for text, sev, for_ in alerts:
            info = next(
                (
                    r
                    for r in self.infos
                    if r.alert == alert and r.labels.get(conventions.SEVERITY_LABEL) == sev
                ),
                None,
            )
            if info is None:
                # A level the model defines but the rules lack: expect it with the labels
                # of a rendered level of the same alert, so the proof fails, not skips.
                info = next((r for r in self.infos if r.alert == alert), None)
                if info is None:
                    raise Unsupported(f"no rendered {alert} rule with severity {sev}")
                info = replace(info, labels={**info.labels, conventions.SEVERITY_LABEL: sev})
            labels = tuple(sorted(info.labels.items()))
            notes = tuple(info.annotations.items())
            rules.append(Rule(alert, True, promeval.parse(text), labels, for_, notes))
        own_records = {name for name, _ in records}
        for rule in rules:
            for name, _, _ in selectors(rule.expr):
                if name in self.recorded and name not in own_records:
                    raise Unsupported(f"reads {name}, which another rule records")
        exprs = [r.expr for r in rules]
        fams = families(exprs, own_records, extra, _buckets(_levels(rules)))
        fams.sort(key=lambda f: f.metric in last)
        return Case(alert, rules, fams, STEP)


def _levels(rules: Sequence[Rule]) -> list[float]:
    out = []
    for r in rules:
        if not r.alert:
            continue
        try:
            _, rhs, _ = comparison(r.expr)
        except Unsupported:
            continue
        if type(rhs).__name__ == "NumberLiteral" and rhs.val > 0:
            out.append(float(rhs.val))
    return out


def _buckets(levels: Sequence[float]) -> tuple[float, ...]:
    """Histogram bounds around every level, so a quantile can land on either side."""
    found = {round(level * f, 9) for level in levels for f in (0.25, 0.5, 0.8, 1, 1.25, 2, 4)}
    return tuple(sorted(found)) or (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


# -- expectations ---------------------------------------------------------------------------
def expected(case: Case, firing: Sequence[Firing]) -> tuple[ExpectedAlert, ...] | None:
    """The alerts promtool must report, or None when a `$value` could render either way."""
    out = []
    for f in firing:
        rule = case.rules[f.rule]
        notes = []
        for key, text in rule.annotations:
            if "$value" in text and not promtemplate.is_stable(text, f.value):
                return None
            notes.append((key, promtemplate.expand(text, f.value)))
        labels = tuple(p for p in f.labels if p[0] != "alertname")
        out.append(ExpectedAlert(labels, tuple(sorted(notes))))
    return tuple(sorted(out, key=repr))


def check_at(
    case: Case,
    states: list[list[Firing]],
    ticks: Sequence[int],
    rule: int | None = None,
    firing: bool = True,
) -> AlertCheck:
    """An exact check at the first of `ticks` where every value renders stably (and,
    given a rule, where that rule is firing or silent as asked)."""
    for k in ticks:
        if not 0 <= k < len(states):
            continue
        if rule is not None and fires(states, rule, k) != firing:
            continue
        alerts = expected(case, states[k])
        if alerts is not None:
            return AlertCheck(k * case.step, case.alert, alerts)
    raise Unsupported("no evaluation time where every $value renders stably")


def fires(states: list[list[Firing]], rule: int, k: int) -> bool:
    return any(f.rule == rule for f in states[k])


def inputs(case: Case, fams: Sequence[Family], ticks: int) -> tuple[InputSeries, ...]:
    out = [InputSeries(text, values) for fam in fams for text, values in fam.series(ticks, STEP)]
    return tuple(sorted(out, key=lambda s: s.series))


def severity(rule: Rule) -> str:
    return dict(rule.labels).get(conventions.SEVERITY_LABEL, "")


def _show(value: float) -> str:
    return format_number(round(value, 4))


def _for(rule: Rule) -> str:
    return f"after {human_duration(rule.for_)}" if rule.for_ else "at once"


# -- thresholds, headroom, exhaustion -------------------------------------------------------
def short_for(case: Case) -> None:
    for i in case.alert_rules:
        if case.rules[i].for_ > MAX_FOR:
            raise Unsupported(
                f"`for: {format_duration(case.rules[i].for_)}` is longer than a short scenario "
                f"({format_duration(MAX_FOR)} at most)"
            )


def level_scenarios(case: Case, title: str, modes: Sequence[str]) -> list[Scenario]:
    """Per level: just past it fires after `for` (silent before), just short is silent."""
    short_for(case)
    for r in case.rules:
        back = max(promeval.offsets(r.expr), default=0.0)
        if back:
            raise Unsupported(
                f"reads data from {format_duration(back)} ago (offset), which a short "
                "scenario does not hold"
            )
    out = []
    reach = max((max(promeval.ranges(r.expr), default=0.0) for r in case.rules), default=0.0)
    settle = math.ceil(min(reach, MAX_SETTLE) / STEP) + 1
    for i in case.alert_rules:
        rule = case.rules[i]
        _, rhs, op = comparison(rule.expr)
        upward = op in (">", ">=")
        ticks_for = math.ceil(rule.for_ / STEP - 1e-9)
        for past in (True, False):
            out.append(_level_side(case, i, title, modes, settle, ticks_for, past, upward, rhs))
    return out


def _level_side(
    case: Case,
    i: int,
    title: str,
    modes: Sequence[str],
    settle: int,
    ticks_for: int,
    past: bool,
    upward: bool,
    rhs: Any,
) -> Scenario:
    rule = case.rules[i]
    end = settle + ticks_for + 2
    number = type(rhs).__name__ == "NumberLiteral"
    level = float(rhs.val) if number else 1.0
    sign = 1 if past == upward else -1
    problem: Unsupported | None = None
    for margin in MARGINS:
        delta = margin * abs(level) if level else margin
        target = level + sign * delta
        # No input reaches the level: another margin will not help either.
        fams = solve(case, i, settle if past else end - 1, target, modes)
        try:
            states = case.run(fams, end)
            last = end - 1
            if past:
                if not fires(states, i, last):
                    raise Unsupported("the model does not show it firing at the end")
                first = last
                while first > 0 and fires(states, i, first - 1):
                    first -= 1
                checks = []
                if first > 0:  # silent while `for` runs: one or two evaluations before
                    near = range(first - 1, max(first - 3, -1), -1)
                    checks.append(check_at(case, states, near, i, firing=False))
                checks.append(check_at(case, states, range(first, end), i))
                if checks[-1].eval_time != last * STEP:
                    checks.append(check_at(case, states, range(last, first, -1)))
            else:
                if any(fires(states, i, k) for k in range(settle, end)):
                    raise Unsupported("the model shows it firing just short of its level")
                # where it would fire by now had it crossed at the settle time
                checks = [check_at(case, states, range(end - 1, settle + ticks_for - 1, -1))]
        except Unsupported as exc:
            problem = problem or exc  # report the first reason
            continue
        side = ("above" if upward else "below") if past else ("below" if upward else "above")
        shown = f"{_show(target)}, just {side} the level of {_show(level)}"
        if not number:
            shown = f"predicted {_show(target * 100)}% of the limit"
        does = f"fires {_for(rule)}" if past else "does not fire"
        name = f"{title} {severity(rule)}: {shown}, {does}"
        return Scenario(name, STEP, inputs(case, fams, end), tuple(checks))
    assert problem is not None
    raise problem


# -- freshness and expiry -------------------------------------------------------------------
def crossing_scenarios(case: Case, title: str, growing: bool) -> list[Scenario]:
    """Per level: the age (time left) crosses it between two evaluations, once."""
    short_for(case)
    out = []
    for i in case.alert_rules:
        rule = case.rules[i]
        _, rhs, _ = comparison(rule.expr)
        level = float(rhs.val)
        # About a quarter step past the level, half a second off whole seconds: between
        # evaluations, and a duration that renders stably (7.5s at 30s, 15.5s at 1m).
        quarter = math.floor(STEP / 4) + 0.5
        target = level + quarter if growing else level - quarter
        fams = solve(case, i, CROSS_TICK, target)
        ticks_for = math.ceil(rule.for_ / STEP - 1e-9)
        fire = CROSS_TICK + ticks_for
        states = case.run(fams, fire + 1)
        if not fires(states, i, fire) or fires(states, i, fire - 1):
            raise Unsupported(f"the model does not fire {severity(rule)} {_for(rule)} the crossing")
        checks = (
            check_at(case, states, [fire - 1]),
            check_at(case, states, [fire]),
        )
        name = f"{title} {severity(rule)}: passes {human_duration(level)}, fires {_for(rule)}"
        out.append(Scenario(name, STEP, inputs(case, fams, fire + 1), checks))
    return out


# -- absence ----------------------------------------------------------------------------------
def absence_scenarios(case: Case, a: Absence) -> list[Scenario]:
    short_for(case)
    (i,) = case.alert_rules
    rule = case.rules[i]
    ticks_for = math.ceil(rule.for_ / STEP - 1e-9)
    end = ticks_for + 2
    out = []
    healthy = [replace(f, level=1.0) for f in case.families]
    shapes: list[tuple[str, list[Family] | None, bool]] = [
        ("healthy: stays silent", healthy, False)
    ]
    if a.target:
        down = [replace(f, level=0.0) for f in case.families]
        shapes.append((f"down (up is 0): fires {_for(rule)}", down, True))
    shapes.append((f"no series: fires {_for(rule)}", None, True))
    for what, fams, must_fire in shapes:
        states = case.run(fams or [], end)
        checks = []
        if must_fire:
            if not fires(states, i, ticks_for) or (ticks_for and fires(states, i, ticks_for - 1)):
                raise Unsupported(f"the model does not fire {_for(rule)}")
            if ticks_for:
                checks.append(check_at(case, states, [ticks_for - 1]))
            checks.append(check_at(case, states, [ticks_for]))
        else:
            if any(fires(states, i, k) for k in range(end)):
                raise Unsupported("the model fires on a healthy series")
            checks.append(check_at(case, states, [end - 1]))
        series = inputs(case, fams, end) if fams else (_filler(end),)
        out.append(Scenario(f"{a.name}: {what}", STEP, series, tuple(checks)))
    return out


def _filler(ticks: int) -> InputSeries:
    """A series of another name keeps the test group from being empty."""
    return InputSeries(series_text("promspec_test_unrelated", {}), expanding([0.0] * ticks))


# -- per check --------------------------------------------------------------------------------
def _extra(exprs: Sequence[str]) -> dict[str, str]:
    labels: set[str] = set()
    for text in exprs:
        try:
            labels |= grouping_labels(text)
        except ValueError:
            continue
    return {name: SYNTHETIC_VALUE for name in sorted(labels) if name != "le"}


Builder = Callable[[], list[Scenario]]


def _num(value: float) -> str:
    """A number as exact PromQL."""
    return repr(float(value))


def _builders(design: Design, service: Service, check: Check) -> list[tuple[str, Builder]]:
    """(alert name, how to build its scenarios) for every alert of a check."""
    name = service.name
    if isinstance(check, Threshold):
        alert = conventions.check_alert(name, check.name)
        op = ">" if check.direction == "above" else "<"
        alerts = [
            (f"({check.expr}) {op} {_num(lv.value)}", lv.severity, check.for_)
            for lv in check.levels
        ]
        extra = _extra([check.expr])
        return [
            (
                alert,
                lambda: level_scenarios(
                    design.case(alert, check, [], alerts, extra), check.name, ("level",)
                ),
            )
        ]
    if isinstance(check, Capacity):
        return _capacity(design, service, check)
    if isinstance(check, (Freshness, Expiry)):
        fresh = isinstance(check, Freshness)
        alert = conventions.check_alert(name, check.name, "Stale" if fresh else "Expiring")
        metric = conventions.FRESHNESS_AGE if fresh else conventions.EXPIRY_REMAINING
        formula = f"time() - ({check.timestamp})" if fresh else f"({check.timestamp}) - time()"
        op = ">" if fresh else "<"
        records = [(metric, formula)]
        alerts = [
            (f"{design.sel(metric, check)} {op} {_num(lv.value)}", lv.severity, check.for_)
            for lv in check.levels
        ]
        extra = _extra([check.timestamp])
        return [
            (
                alert,
                lambda: crossing_scenarios(
                    design.case(alert, check, records, alerts, extra), check.name, fresh
                ),
            )
        ]
    assert isinstance(check, Absence)
    alert = conventions.check_alert(name, check.name, "Absent")
    sel = check.selector
    expr = f"({sel} == 0) or absent({sel})" if check.target else f"absent({sel})"
    alerts = [(expr, check.severity, check.for_)]
    return [(alert, lambda: absence_scenarios(design.case(alert, check, [], alerts, {}), check))]


def _metrics(text: str) -> list[str]:
    """The metric names an expression reads; none if the model cannot parse it (the
    scenario builder then reports why)."""
    try:
        return [m for m, _, _ in selectors(promeval.parse(text))]
    except Unsupported:
        return []


def _capacity(design: Design, service: Service, c: Capacity) -> list[tuple[str, Builder]]:
    usage = design.sel(conventions.CAPACITY_USAGE, c)
    records = [(conventions.CAPACITY_USAGE, c.usage)]
    if is_number(c.limit):
        limit, divisor = _num(float(c.limit)), _num(float(c.limit))
    else:
        records.append((conventions.CAPACITY_LIMIT, c.limit))
        limit = design.sel(conventions.CAPACITY_LIMIT, c)
        divisor = f"({limit} > 0)"
    records.append((conventions.CAPACITY_HEADROOM, f"1 - {usage} / {divisor}"))
    headroom = design.sel(conventions.CAPACITY_HEADROOM, c)
    extra = _extra([c.usage, c.limit])
    last = [] if is_number(c.limit) else _metrics(c.limit)
    out: list[tuple[str, Builder]] = []
    if c.headroom:
        alert = conventions.check_alert(service.name, c.name, "HeadroomLow")
        alerts = [
            (f"{headroom} < {_num(round(lv.value / 100, 12))}", lv.severity, c.level_for(lv))
            for lv in c.headroom
        ]

        def headroom_low(
            alert: str = alert, alerts: Sequence[tuple[str, str, float]] = alerts
        ) -> list[Scenario]:
            case = design.case(alert, c, records, alerts, extra, last)
            return level_scenarios(case, f"{c.name} headroom", ("level",))

        out.append((alert, headroom_low))
    if c.exhaustion:
        alert = conventions.check_alert(service.name, c.name, "ExhaustionPredicted")
        ex_alerts = [
            (
                f"predict_linear({usage}[{int(ex.lookback)}s], {_num(ex.within)}) >= {limit}",
                ex.severity,
                ex.for_,
            )
            for ex in c.exhaustion
        ]

        def exhaustion(alert: str = alert) -> list[Scenario]:
            case = design.case(alert, c, records, ex_alerts, extra, last)
            return level_scenarios(case, f"{c.name} exhaustion", ("trend",))

        out.append((alert, exhaustion))
    return out


def check_scenarios(service: Service, rendered: dict[str, Any]) -> tuple[list[Scenario], list[str]]:
    """Scenarios for every non-SLO alert, and why the others are not proven."""
    design = Design(service, rendered)
    scenarios: list[Scenario] = []
    notes: list[str] = []
    checks: list[Check] = [
        *service.thresholds,
        *service.capacity,
        *service.freshness,
        *service.expiry,
        *service.absence,
    ]
    for check in checks:
        for alert, build in _builders(design, service, check):
            try:
                scenarios.extend(build())
            except Unsupported as exc:
                notes.append(f"{alert}: {exc}")
            except (ArithmeticError, ValueError, RecursionError) as exc:  # never a crash
                notes.append(f"{alert}: the model cannot evaluate it ({exc})")
    return scenarios, sorted(notes)
