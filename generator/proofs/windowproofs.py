"""The middle layer of the SLO proofs: each window recipe proven from the level below.

A window of `pieces` copies of its source window (plan.WindowRecipe) is checked from
input series of the source window's slo:sli_events rates, sampled at the source's own
length: the rule reads them at offsets 0, source, 2 x source, ..., so promtool needs
2 x pieces evaluations at that step (ten 3d steps for a 30d window, not 8,640 at 5m).
One file per source length, since promtool has one evaluation_interval per file.

What each check expects follows from the recipe alone: every events label (total,
errors, history) is the sum of the copies present over `pieces`, a missing copy (a
stale source sample) adds nothing, so the history share drops by 1 / pieces; the
window's error ratio, where the rules record one, is errors over total.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator import conventions
from generator.proofs import layers, scenarios
from generator.proofs.proofdata import ExprCheck, InputSeries, RuleInfo, Scenario, TestFile
from generator.proofs.series import SYNTHETIC_VALUE, matches, series_text
from generator.slo.plan import SLOPlan, WindowRecipe
from generator.spec.model import GaugeIndicator, Service
from generator.units import exact_number, format_duration

_KINDS = (conventions.EVENTS_TOTAL, conventions.EVENTS_ERRORS, conventions.EVENTS_HISTORY)


def _samples(kind: str, count: int) -> list[float]:
    """Distinct per sample, and exact in any sum and in a division by the piece count's
    result: integers, and history shares in quarters."""
    if kind == conventions.EVENTS_TOTAL:
        return [100.0 + 10 * m for m in range(count)]
    if kind == conventions.EVENTS_ERRORS:
        return [1.0 + m for m in range(count)]
    return [0.75 if m % 2 else 1.0 for m in range(count)]


def scenario(
    service: Service, plan: SLOPlan, recipe: WindowRecipe, rules: Sequence[RuleInfo]
) -> Scenario:
    if recipe.source == conventions.BASE_WINDOW_SECONDS:
        return _from_counters(service, plan, recipe, list(rules))
    return _from_source(service, plan, recipe, rules)


def _from_counters(
    service: Service, plan: SLOPlan, recipe: WindowRecipe, rules: list[RuleInfo]
) -> Scenario:
    """A window built from the 5m rates, from raw counters sampled every 5m: the 5m
    rules write the error and history rates from the total one, so the source level
    cannot be an input here. The model predicts each rate; the failed share grows per
    sample (a copy read at a wrong offset changes the sum), in quarters of 600 events
    per 5m, so every sum is exact. The first check comes before the window is full:
    its history counts only the copies there are."""
    sc = scenarios.SLOScenarios(service, plan, rules, long=True)
    n, step = recipe.pieces, recipe.source
    count = n + 2  # tick 0 has no 5m rate yet: n + 1 samples fill the window
    if isinstance(plan.slo.indicator, GaugeIndicator):
        bad = tuple(1.0 if k % 3 == 1 else 0.0 for k in range(count))
    else:
        bad = tuple(min(k, 7) / 8 for k in range(count))
    shape = scenarios.Shape(bad, events=600.0)
    model = sc.model(shape)
    labels = sc.series_labels()
    checks = []
    base = {kind: model.series(kind, step) for kind in _KINDS}
    for k in (max(1, n // 2), count - 1):
        # Added newest copy first, as the rule's `sum` meets them: float sums of rates
        # such as 2/300 depend on the order, and promtool compares exactly.
        mean: dict[str, float | None] = {}
        for kind in _KINDS:
            pieces = [base[kind][k - j] for j in range(n) if k - j >= 0]
            present = [v for v in pieces if v is not None]
            mean[kind] = _ordered_sum(present) / n if present else None
        checks.extend(_window_checks(recipe, rules, labels, k * step, mean))
    what = (
        f"{plan.slo.name}: the {format_duration(recipe.window)} window from raw counters is the "
        f"mean of {n} copies of the 5m rates, before and once the window is full"
    )
    return Scenario(what, step, sc.inputs(shape), (), tuple(checks))


def _ordered_sum(values: Sequence[float]) -> float:
    total = values[0]
    for v in values[1:]:
        total += v
    return total


def _window_checks(
    recipe: WindowRecipe,
    rules: Sequence[RuleInfo],
    labels: dict[str, str],
    at: float,
    mean: dict[str, float | None],
) -> list[ExprCheck]:
    """The window's rates by events label at `at`, and its error ratio where recorded."""
    window = conventions.sli_events(recipe.window)
    found = [(kind, v) for kind, v in sorted(mean.items()) if v is not None]
    samples = tuple((series_text(window, {**labels, "events": kind}), v) for kind, v in found)
    checks = [ExprCheck(series_text(window, labels), at, samples)]
    ratio_name = conventions.error_ratio(recipe.window)
    errors, total = mean[conventions.EVENTS_ERRORS], mean[conventions.EVENTS_TOTAL]
    if rule_for(rules, ratio_name, labels) is not None and errors is not None and total:
        text = series_text(ratio_name, labels)
        checks.append(ExprCheck(text, at, ((text, errors / total),)))
    return checks


def _from_source(
    service: Service, plan: SLOPlan, recipe: WindowRecipe, rules: Sequence[RuleInfo]
) -> Scenario:
    """Two windows' worth of source samples: all copies present at the first check, the
    second-newest... one missing (stale) at the second."""
    n, step = recipe.pieces, recipe.source
    count = 2 * n
    missing = n + 1  # read by the second check as copy n - 2
    labels = {
        conventions.SERVICE_LABEL: service.name,
        conventions.SLO_LABEL: plan.slo.name,
        **{g: SYNTHETIC_VALUE for g in plan.slo.group_by},
    }
    source = conventions.sli_events(recipe.source)
    inputs = []
    values = {kind: _samples(kind, count) for kind in _KINDS}
    for kind in _KINDS:
        text = " ".join(
            "stale" if m == missing else exact_number(v) for m, v in enumerate(values[kind])
        )
        inputs.append(InputSeries(series_text(source, {**labels, "events": kind}), text))
    checks = []
    for last in (n - 1, count - 1):
        read = [last - j for j in range(n) if last - j != missing]
        mean: dict[str, float | None] = {
            kind: sum(values[kind][m] for m in read) / n for kind in _KINDS
        }
        checks.extend(_window_checks(recipe, rules, labels, last * step, mean))
    what = (
        f"{plan.slo.name}: the {format_duration(recipe.window)} window is the mean of "
        f"{n} copies of {format_duration(recipe.source)}, a missing copy counting nothing"
    )
    return Scenario(what, step, tuple(inputs), (), tuple(checks))


def rule_for(rules: Sequence[RuleInfo], record: str, labels: dict[str, str]) -> int | None:
    """The recording rule writing `record` for an SLO of these labels: window and ratio
    rules serve a whole service or one SLO, as their selectors say."""
    for i, r in enumerate(rules):
        if r.record != record:
            continue
        selectors = layers.selectors(r.expr)
        if all(
            m.name not in labels or matches({m.name: labels[m.name]}, [m])
            for _, found in selectors
            for m in found
        ):
            return i
    return None


def window_files(
    service: Service,
    plans: Sequence[SLOPlan],
    rules: Sequence[RuleInfo],
    rule_file: str,
    order: tuple[str, ...],
) -> tuple[list[TestFile], list[str]]:
    """One file per source length with every recipe of the service built from it (a
    window rule serves every SLO of the service: proven once, with its first SLO), and
    the windows no recipe builds, which this layer cannot prove."""
    by_source: dict[float, list[Scenario]] = {}
    seen: set[int] = set()
    notes: list[str] = []
    for plan in plans:
        labels = {conventions.SERVICE_LABEL: service.name, conventions.SLO_LABEL: plan.slo.name}
        for recipe in plan.recipes:
            found = rule_for(rules, conventions.sli_events(recipe.window), labels)
            if found is None or found in seen:  # none: the rules record no such window
                continue
            seen.add(found)
            s = scenario(service, plan, recipe, rules)
            layers.check(rules, s.name, (i.series for i in s.series))
            by_source.setdefault(recipe.source, []).append(s)
        windows = {*plan.fast_windows, *plan.slow_windows, plan.slo.period}
        for w in sorted(windows - {r.window for r in plan.recipes}):
            if w > conventions.BASE_WINDOW_SECONDS:
                notes.append(
                    f"SLO {plan.slo.name}: the {format_duration(w)} window has no recipe of "
                    "copies; its rule is not proven from the level below"
                )
    files = [
        TestFile(
            conventions.windows_tests_path(service.name, source),
            rule_file,
            source,
            tuple(found),
            order,
        )
        for source, found in sorted(by_source.items())
    ]
    return files, notes
