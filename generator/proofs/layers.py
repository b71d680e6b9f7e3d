"""Layered SLO proofs: which recorded series a test group inputs instead of raw counters,
and the rule that keeps such a group honest.

An alert test that inputs the recorded windows an alert reads (error ratios, events per
window) runs no window chain and needs no days of healthy prefix: promtool evaluates a
few dozen steps instead of thousands. The windows themselves are proven a layer below,
from the level beneath each (see windowproofs.py), and the raw counters end to end in a
few short scenarios. Which series to input is read off the rendered rules, not assumed:
from the alert's expression down through recording rules until a series the model
(promsim.SLOModel) predicts, so a guard added to an alert brings its own input.

The invariant: no rule of the file may produce a series the test group also inputs.
promtool would write both into one series, and the alert would read a mix of the
scenario's values and the rule's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import promql_parser as pp

from generator import conventions
from generator.promql import fragments as promql
from generator.promql.fragments import Matcher
from generator.proofs.proofdata import RuleInfo
from generator.proofs.series import matches


class LayerError(AssertionError):
    """A layered test group would be unsound: a bug in promspec, never in a spec."""


@dataclass(frozen=True)
class Read:
    """A recorded series an alert reads whose values the model predicts.

    kind: "ratio" (slo:sli_error:ratio_rate<W>) or an events label value (total, errors,
    history) of slo:sli_events:rate<W>. labels: the selector's equality matchers."""

    metric: str
    kind: str
    window: float
    labels: tuple[tuple[str, str], ...]


def predicted(windows: Iterable[float]) -> dict[str, tuple[str, float]]:
    """Recorded names the model predicts, for these windows: name -> (ratio|events, W)."""
    out: dict[str, tuple[str, float]] = {}
    for w in windows:
        out[conventions.error_ratio(w)] = ("ratio", w)
        out[conventions.sli_events(w)] = ("events", w)
    return out


def reads(
    rule: RuleInfo, recordings: Sequence[RuleInfo], names: dict[str, tuple[str, float]]
) -> tuple[Read, ...]:
    """The predicted series `rule` reads, directly or through recording rules."""
    found: list[Read] = []
    seen: set[int] = set()

    def visit(expr: str) -> None:
        for metric, matchers in _selectors(expr):
            if metric in names:
                kind, window = names[metric]
                eq = tuple((m.name, m.value) for m in matchers if m.op == "=")
                if kind == "ratio":
                    found.append(Read(metric, kind, window, eq))
                    continue
                label = dict(eq).get(conventions.EVENTS_LABEL)
                rest = tuple(kv for kv in eq if kv[0] != conventions.EVENTS_LABEL)
                kinds = [label] if label else list(_EVENTS)
                for k in kinds:
                    found.append(Read(metric, k, window, (*rest, (conventions.EVENTS_LABEL, k))))
                continue
            for i, r in enumerate(recordings):
                if i not in seen and r.record == metric and _consistent(r.labels, matchers):
                    seen.add(i)
                    visit(r.expr)

    visit(rule.expr)
    return _without_computed(tuple(dict.fromkeys(found)))


def _without_computed(found: tuple[Read, ...]) -> tuple[Read, ...]:
    """The reads less the error ratios whose errors and total windows are read too (a
    guard or min_traffic reads them): the ratio rule computes those from the inputs, and
    inputting the ratio as well would give that series a second writer (see check)."""
    events = {
        (r.window, tuple(kv for kv in r.labels if kv[0] != conventions.EVENTS_LABEL), r.kind)
        for r in found
        if r.kind != "ratio"
    }
    both = (conventions.EVENTS_TOTAL, conventions.EVENTS_ERRORS)
    return tuple(
        r
        for r in found
        if r.kind != "ratio" or not all((r.window, r.labels, k) in events for k in both)
    )


_EVENTS = (conventions.EVENTS_TOTAL, conventions.EVENTS_ERRORS, conventions.EVENTS_HISTORY)


def _consistent(labels: dict[str, str], matchers: Sequence[Matcher]) -> bool:
    """Whether a rule writing these labels may be what the matchers select."""
    return all(m.name not in labels or matches({m.name: labels[m.name]}, [m]) for m in matchers)


def selectors(expr: str) -> tuple[tuple[str, tuple[Matcher, ...]], ...]:
    """Every series selector of a rule expression (parsed once per text)."""
    return _selectors(expr)


@lru_cache(maxsize=4096)
def _selectors(expr: str) -> tuple[tuple[str, tuple[Matcher, ...]], ...]:
    return tuple(promql.vector_selectors(expr))


@lru_cache(maxsize=4096)
def _parsed(expr: str) -> Any:
    return promql.parse(expr, promql.MAX_RULE_CHARS)


# A series available to a rule: (name, labels, whether the labels are complete). A rule's
# output is known only by its record name and static labels; the rest may be anything.
_Series = tuple[str, dict[str, str], bool]
_ALWAYS = frozenset({"absent", "absent_over_time", "vector", "time", "pi"})
_EITHER = frozenset({"or"})
_LEFT = frozenset({"unless"})


def _selects(metric: str, matchers: Sequence[Matcher], series: _Series) -> bool:
    name, labels, complete = series
    if metric and metric != name:
        return False
    for m in matchers:
        if m.name == "__name__":
            continue
        known = m.name in labels or complete
        if known and not matches({m.name: labels.get(m.name, "")}, [m]):
            return False
    return True


def _may_yield(node: Any, available: list[_Series]) -> bool:
    """Whether an expression may return a sample, given the series that may exist."""
    if isinstance(node, pp.VectorSelector):
        found = promql.matchers_of(node)
        return any(_selects(node.name or "", found, s) for s in available)
    if isinstance(node, pp.MatrixSelector):
        return _may_yield(node.vector_selector, available)
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return True
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return _may_yield(node.expr, available)
    if isinstance(node, pp.Call):
        if node.func.name in _ALWAYS:
            return True
        return all(_may_yield(a, available) for a in node.args)
    if isinstance(node, pp.AggregateExpr):
        return _may_yield(node.expr, available)
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        left = _may_yield(node.lhs, available)
        if op in _EITHER:
            return left or _may_yield(node.rhs, available)
        if op in _LEFT:
            return left
        return left and _may_yield(node.rhs, available)
    return True  # anything else: assume it may


def conflicts(rules: Sequence[RuleInfo], inputs: Iterable[str]) -> list[str]:
    """Input series that a recording rule of the file may also write, given the inputs:
    each as 'series (rule)'. Empty when the test group is sound."""
    given: list[tuple[str, dict[str, str]]] = []
    for text in inputs:
        metric, matchers = promql.plain_selector(text)
        given.append((metric, {m.name: m.value for m in matchers}))
    available: list[_Series] = [(n, labels, True) for n, labels in given]
    producing: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, r in enumerate(rules):
            if not r.record or i in producing:
                continue
            if _may_yield(_parsed(r.expr), available):
                producing.add(i)
                available.append((r.record, r.labels, False))
                changed = True
    out = []
    for i in sorted(producing):
        r = rules[i]
        for name, labels in given:
            if name == r.record and all(labels.get(k) == v for k, v in r.labels.items()):
                out.append(
                    f"{name}{{{','.join(f'{k}={v}' for k, v in labels.items())}}} ({r.record})"
                )
    return out


def check(rules: Sequence[RuleInfo], name: str, inputs: Iterable[str]) -> None:
    found = conflicts(rules, inputs)
    if found:
        raise LayerError(f"test {name!r}: rules of the file also write its input {found[0]}")
