"""Rules run over synthetic input the way promtool runs them, and inputs solved for levels.

Pure. A Case is one alert name with the recording rules of its check, in group order;
`run` evaluates them tick by tick (recording rules write into the storage the later rules
read, alerts count `for` from their first active evaluation) with generator/proofs/promeval.py.
Synthetic inputs are Families: a gauge (a + b*t), a counter (slope*t) or a histogram
(cumulative buckets of latencies spread evenly on [0, scale], one observation a second).
`solve` finds the value of one family's parameter that drives an alert's left-hand side to
a target at a given tick. The runs that expectations come from read every sample through
promtool's expanding notation, so the model sees exactly the floats promtool will.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from generator.promql.fragments import Matcher
from generator.proofs import promeval
from generator.proofs.promeval import NAME, Labels, Storage, labels_of
from generator.proofs.series import Unsupported, expanding, parse_expanding, satisfy, series_text
from generator.units import format_le

COUNTER_FUNCS = {"rate", "irate", "increase", "resets"}


@dataclass(frozen=True)
class Rule:
    name: str  # recorded series or alert name
    alert: bool
    expr: Any  # parsed
    labels: tuple[tuple[str, str], ...]
    for_: float = 0.0
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Family:
    """Input series for one selector: a gauge, a counter or a histogram's buckets."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    kind: str  # gauge | counter | histogram
    level: float = 1.0  # gauge value at t=0, counter slope, or histogram scale
    trend: float = 0.0  # gauge slope per second
    buckets: tuple[float, ...] = ()

    def values(self, ticks: int, step: float) -> list[tuple[dict[str, str], list[float]]]:
        base = dict(self.labels)
        if self.kind == "gauge":
            return [(base, [self.level + self.trend * k * step for k in range(ticks)])]
        if self.kind == "counter":
            return [(base, [self.level * k * step for k in range(ticks)])]
        out = []
        for le in (*self.buckets, math.inf):
            share = 1.0 if math.isinf(le) or self.level <= 0 else min(1.0, le / self.level)
            labels = {**base, "le": "+Inf" if math.isinf(le) else format_le(le)}
            out.append((labels, [share * k * step for k in range(ticks)]))
        return out

    def series(self, ticks: int, step: float) -> list[tuple[str, str]]:
        """(series text, expanding values) per input series."""
        return [(series_text(self.metric, d), expanding(v)) for d, v in self.values(ticks, step)]


@dataclass(frozen=True)
class Firing:
    rule: int
    labels: Labels  # without alertname
    value: float


# Simulations by shape (see Case.run): what fires at each tick, or why it cannot run.
_RUNS: dict[tuple[object, ...], tuple[tuple[Firing, ...], ...] | str] = {}
MAX_REMEMBERED = 4096  # shapes per cache: a process over many distinct checks stays small


def _remember(cache: dict[tuple[object, ...], Any], key: tuple[object, ...], value: Any) -> None:
    if len(cache) >= MAX_REMEMBERED:
        cache.clear()
    cache[key] = value


@dataclass
class Case:
    alert: str
    rules: list[Rule]  # recording rules, then the alert's rules, in group order
    families: list[Family]
    step: float

    @property
    def alert_rules(self) -> list[int]:
        return [i for i, r in enumerate(self.rules) if r.alert]

    def storage(
        self, families: Sequence[Family], ticks: int, start: int = 0, exact: bool = True
    ) -> Storage:
        """The input samples of ticks start..ticks-1; exact: as promtool reads them back
        from expanding notation (the solver skips that, the final run does not)."""
        storage = Storage()
        for fam in families:
            for labels, raw in fam.values(ticks, self.step):
                values = parse_expanding(expanding(raw)) if exact else raw
                key = labels_of({**labels, NAME: fam.metric})
                storage.extend(key, [(k * self.step, values[k]) for k in range(start, ticks)])
        return storage

    @cached_property
    def reach(self) -> float:
        """How far back any rule of the case reads (ranges, offsets), in seconds."""
        return max((max(promeval.ranges(r.expr), default=0.0) for r in self.rules), default=0.0)

    @cached_property
    def alert_reach(self) -> dict[int, float]:
        return {i: max(promeval.ranges(self.rules[i].expr), default=0.0) for i in self.alert_rules}

    @cached_property
    def _shapes(self) -> dict[bool, tuple[tuple[object, ...] | None, dict[str, str]]]:
        out = {}
        for alerts in (False, True):
            names = _Names()
            out[alerts] = (_rules_shape(self.rules, names, alerts), names.forward)
        return out

    def shape(self, alerts: bool) -> tuple[tuple[object, ...] | None, _Names]:
        """The rules' shape (see _Names), worked out once, and the renaming it began."""
        rules, forward = self._shapes[alerts]
        names = _Names()
        names.forward = dict(forward)
        return rules, names

    def record(self, storage: Storage, k: int) -> None:
        t = k * self.step
        for rule in self.rules:
            if rule.alert:
                continue
            out = promeval.evaluate(storage, rule.expr, t)
            if isinstance(out, float):
                out = [promeval.Sample((), out)]
            for s in out:
                d = dict(s.labels)
                d[NAME] = rule.name
                d.update(rule.labels)
                storage.add(labels_of(d), t, s.value)

    def run(self, families: Sequence[Family], ticks: int) -> list[list[Firing]]:
        """The firing alerts of the case at every tick, as promtool would report them.

        Simulated once per shape of case and input (see _Names), the labels of what
        fires renamed back to this case's."""
        rules, names = self.shape(alerts=True)
        if rules is None:
            return self._run(families, ticks)
        key = (rules, _families_shape(families, names), self.step, ticks)
        hit = _RUNS.get(key)
        if isinstance(hit, str):
            raise Unsupported(hit)
        if hit is not None:
            return [[Firing(f.rule, names.back(f.labels), f.value) for f in st] for st in hit]
        try:
            states = self._run(families, ticks)
        except Unsupported as exc:
            _remember(_RUNS, key, str(exc))
            raise
        shared = []
        for st in states:
            row = []
            for f in st:
                labels = names.known(f.labels)
                if labels is None:
                    return states  # a label value from elsewhere: not shared
                row.append(Firing(f.rule, labels, f.value))
            shared.append(tuple(row))
        _remember(_RUNS, key, tuple(shared))
        return states

    def _run(self, families: Sequence[Family], ticks: int) -> list[list[Firing]]:
        storage = self.storage(families, ticks)
        active: dict[tuple[int, Labels], float] = {}
        out = []
        for k in range(ticks):
            t = k * self.step
            self.record(storage, k)
            firing = []
            for i in self.alert_rules:
                rule = self.rules[i]
                vec = promeval.evaluate(storage, rule.expr, t)
                if isinstance(vec, float):
                    raise Unsupported("an alert expression that gives a scalar")
                seen = set()
                for s in vec:
                    d = dict(promeval.drop_name(s.labels))
                    d.update(rule.labels)
                    labels = labels_of(d)
                    key = (i, labels)
                    seen.add(key)
                    since = active.setdefault(key, t)
                    if t - since >= rule.for_ - 1e-9:
                        firing.append(Firing(i, labels, s.value))
                for key in [key for key in active if key[0] == i and key not in seen]:
                    del active[key]
            out.append(firing)
        return out

    def operand(self, families: Sequence[Family], rule: int, k: int) -> float | None:
        """The alert's left-hand side at tick k relative to its right-hand side.

        A number on the right: the left-hand value. A vector: left / right (right > 0).
        None unless both sides give exactly one series."""
        lhs, rhs, _ = comparison(self.rules[rule].expr)
        # Recorded series are needed as far back as the alert reads them, raw input as
        # far back again as any rule reads it, plus the instant lookback.
        records_from = max(0, k - math.ceil(self.alert_reach[rule] / self.step))
        back = math.ceil((self.reach + promeval.LOOKBACK) / self.step) + 1
        storage = self.storage(families, k + 1, max(0, records_from - back), exact=False)
        for j in range(records_from, k + 1):
            self.record(storage, j)
        t = k * self.step
        left = promeval.evaluate(storage, lhs, t)
        if isinstance(left, list):
            if len(left) != 1:
                return None
            left = left[0].value
        if type(rhs).__name__ == "NumberLiteral":
            return left if math.isfinite(left) else None
        right = promeval.evaluate(storage, rhs, t)
        if isinstance(right, list):
            if len(right) != 1:
                return None
            right = right[0].value
        if not right > 0 or not math.isfinite(left):
            return None
        return left / right


def comparison(expr: Any) -> tuple[Any, Any, str]:
    """The two sides and the operator of an alert expression `lhs <op> rhs`."""
    while type(expr).__name__ == "ParenExpr":
        expr = expr.expr
    if type(expr).__name__ != "BinaryExpr" or str(expr.op) not in (">", "<", ">=", "<="):
        raise Unsupported("the alert is not a comparison")
    return expr.lhs, expr.rhs, str(expr.op)


# -- building inputs ----------------------------------------------------------------------
def selectors(expr: Any) -> list[tuple[str, tuple[Matcher, ...], bool]]:
    """(metric, matchers, read as a counter) for every selector of an expression."""
    found: list[tuple[str, tuple[Matcher, ...], bool]] = []

    def visit(node: Any, counter: bool) -> None:
        kind = type(node).__name__
        if kind == "VectorSelector":
            name, matchers = promeval._matchers(node)
            if not name:
                raise Unsupported("a selector without a metric name")
            found.append((name, matchers, counter))
            return
        if kind == "MatrixSelector":
            visit(node.vector_selector, counter)
            return
        if kind == "Call":
            inner = node.func.name in COUNTER_FUNCS
            for a in node.args:
                visit(a, inner)
            return
        for attr in ("expr", "lhs", "rhs", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (int, float, str)):
                visit(child, False)

    visit(expr, False)
    return found


def families(
    exprs: Sequence[Any], recorded: set[str], extra: dict[str, str], buckets: tuple[float, ...]
) -> list[Family]:
    """One input family per distinct selector the expressions read (recorded ones aside)."""
    seen: dict[tuple[str, Labels], Family] = {}
    for expr in exprs:
        for name, matchers, counter in selectors(expr):
            if name in recorded:
                continue
            if name.endswith("_bucket"):
                own = tuple(m for m in matchers if m.name != "le")
                labels = satisfy(own, {k: v for k, v in extra.items() if k != "le"})
                fam = Family(name, tuple(sorted(labels.items())), "histogram", buckets=buckets)
            else:
                labels = satisfy(matchers, {k: v for k, v in extra.items() if k != "le"})
                fam = Family(name, tuple(sorted(labels.items())), "counter" if counter else "gauge")
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                if fam.kind == "counter" and seen[key].kind == "gauge":
                    seen[key] = fam
                continue
            seen[key] = fam
    return list(seen.values())


def grid(kind: str, mode: str) -> list[float]:
    positive = [10.0 ** (e / 2) for e in range(-12, 21)]
    if kind != "gauge":
        return positive
    if mode == "trend":
        return sorted([-x for x in positive] + positive)
    return sorted([-x for x in positive] + [0.0] + positive)


def with_param(fam: Family, mode: str, x: float) -> Family:
    return replace(fam, trend=x) if mode == "trend" else replace(fam, level=x)


def starts(fams: Sequence[Family]) -> list[list[Family]]:
    """Where the other series sit while one is varied: all at 1, 0.01 or 100, then one
    of them apart (a guard like `and on(...) (other < 50)` needs its own value)."""
    out = [[replace(f, level=base) for f in fams] for base in (1.0, 0.01, 100.0)]
    for j in range(len(fams)):
        for apart in (0.01, 100.0):
            out.append([replace(f, level=apart if i == j else 1.0) for i, f in enumerate(fams)])
    return out if len(fams) > 1 else out[:3]


MAX_FAMILIES = 8  # more input series than this: the search would take too long
MAX_EVALUATIONS = 1500  # model evaluations per solve, across every way tried


def solve(
    case: Case, rule: int, k: int, target: float, modes: Sequence[str] = ("level",)
) -> list[Family]:
    """Families that put the alert's operand at `target` (within 1e-9) at tick k,
    varying one series' parameter while the others stay put.

    Many services share a check's shape and differ only in label values (service,
    check, job names), which the model only ever compares for equality: the search is
    done once per shape and its answer (which series, how, what value) reused."""
    key = _shape(case, rule, k, target, modes)
    found = _SOLVED.get(key) if key is not None else None
    if found is None:
        try:
            found = _search(case, rule, k, target, modes)
        except Unsupported as exc:
            found = str(exc)
        if key is not None:
            _remember(_SOLVED, key, found)
    if isinstance(found, str):
        raise Unsupported(found)
    s, i, mode, x = found
    start = starts(case.families)[s]
    return [*start[:i], with_param(start[i], mode, x), *start[i + 1 :]]


Solution = tuple[int, int, str, float]  # start, family varied, mode, value
_SOLVED: dict[tuple[object, ...], Solution | str] = {}  # or why there is none


def _search(case: Case, rule: int, k: int, target: float, modes: Sequence[str]) -> Solution:
    if len(case.families) > MAX_FAMILIES:
        raise Unsupported(
            f"it reads {len(case.families)} input series, more than the {MAX_FAMILIES} "
            "the solver searches"
        )
    tried: set[tuple[object, ...]] = set()
    budget = [MAX_EVALUATIONS]
    for s, start in enumerate(starts(case.families)):
        for i, fam in enumerate(start):
            for mode in modes:
                if mode == "trend" and fam.kind != "gauge":
                    continue
                key = (*start[:i], replace(fam, level=0.0, trend=0.0), *start[i + 1 :], mode)
                if key in tried:
                    continue
                tried.add(key)

                def vary(
                    x: float, i: int = i, mode: str = mode, start: list[Family] = start
                ) -> list[Family]:
                    return [*start[:i], with_param(start[i], mode, x), *start[i + 1 :]]

                def g(x: float, vary: Callable[[float], list[Family]] = vary) -> float | None:
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise Unsupported(
                            f"no input found within {MAX_EVALUATIONS} model evaluations"
                        )
                    return case.operand(vary(x), rule, k)

                x = _root(g, grid(fam.kind, mode), target)
                if x is not None:
                    return s, i, mode, x
    raise Unsupported(
        f"no value of any one synthetic series brings it to {target:.6g} "
        f"({len(tried)} tried; counts of series and sums of many need a hand-written test)"
    )


class _Names:
    """A one-to-one renaming of label values, in order of appearance.

    The evaluator only compares label values for equality (an absent label reads as ""),
    so cases that differ by such a renaming give the same numbers: many services share a
    check's shape and differ only in service, check and job names. Kept as they are: "",
    `le` (parsed as a number) and metric names."""

    def __init__(self) -> None:
        self.forward: dict[str, str] = {}

    def value(self, label: str, v: str) -> str:
        if label in ("le", NAME) or v == "":
            return v
        return self.forward.setdefault(v, f"\0{len(self.forward)}")

    def labels(self, pairs: Sequence[tuple[str, str]]) -> Labels:
        return tuple((n, self.value(n, v)) for n, v in pairs)

    def known(self, pairs: Labels) -> Labels | None:
        """Labels renamed, or None if one has a value the shape did not name."""
        out = []
        for n, v in pairs:
            if n in ("le", NAME) or v == "":
                out.append((n, v))
            elif v in self.forward:
                out.append((n, self.forward[v]))
            else:
                return None
        return tuple(out)

    def back(self, pairs: Labels) -> Labels:
        inverse = {p: v for v, p in self.forward.items()}
        return tuple((n, inverse.get(v, v) if n not in ("le", NAME) else v) for n, v in pairs)


def _rules_shape(rules: Sequence[Rule], names: _Names, alerts: bool) -> tuple[object, ...] | None:
    """The rules as the evaluator reads them, renamed; alerts: with their labels and
    `for` (an alert's name is never read). None if a regex matcher reads a value itself,
    or a node is not known here: not shared."""
    try:
        return tuple(
            (r.alert, _node_shape(r.expr, names.value), names.labels(r.labels), r.for_)
            if r.alert and alerts
            else (r.alert, _node_shape(r.expr, names.value))
            if r.alert
            else (r.alert, _node_shape(r.expr, names.value), r.name, names.labels(r.labels))
            for r in rules
        )
    except _NoShape:
        return None


def _families_shape(fams: Sequence[Family], names: _Names) -> tuple[object, ...]:
    return tuple(
        (f.metric, names.labels(f.labels), f.kind, f.level, f.trend, f.buckets) for f in fams
    )


def _shape(
    case: Case, rule: int, k: int, target: float, modes: Sequence[str]
) -> tuple[object, ...] | None:
    """What `operand` depends on, label values renamed."""
    rules, names = case.shape(alerts=False)
    if rules is None:
        return None
    fams = _families_shape(case.families, names)
    return (rules, fams, case.step, rule, k, target, tuple(modes))


class _NoShape(Exception):
    pass


def _node_shape(node: Any, value: Callable[[str, str], str]) -> tuple[object, ...]:
    """The fields of an expression the evaluator reads, label values renamed."""
    kind = type(node).__name__

    def sub(n: Any) -> tuple[object, ...]:
        return _node_shape(n, value)

    if kind == "NumberLiteral":
        return (kind, float(node.val))
    if kind in ("ParenExpr", "UnaryExpr"):
        return (kind, sub(node.expr))
    if kind == "VectorSelector":
        if node.matchers.or_matchers or node.at is not None:
            raise _NoShape
        matchers = []
        for m in node.matchers.matchers:
            op = str(m.op)
            if op not in ("MatchOp.Equal", "MatchOp.NotEqual"):
                raise _NoShape  # a regex reads the value itself
            matchers.append((m.name, op, value(m.name, m.value)))
        return (kind, node.name, tuple(matchers), promeval._offset(node))
    if kind == "MatrixSelector":
        return (kind, sub(node.vector_selector), float(node.range.total_seconds()))
    if kind == "Call":
        return (kind, node.func.name, tuple(sub(a) for a in node.args))
    if kind == "AggregateExpr":
        mod = node.modifier
        if node.param is not None:
            raise _NoShape
        grouping = None if mod is None else (str(mod.type), tuple(mod.labels))
        return (kind, str(node.op), grouping, sub(node.expr))
    if kind == "BinaryExpr":
        mod = node.modifier
        how = None
        if mod is not None:
            m = mod.matching
            matching = None if m is None else (str(m.type), tuple(m.labels))
            how = (bool(mod.return_bool), str(mod.card), matching)
        return (kind, str(node.op), how, sub(node.lhs), sub(node.rhs))
    raise _NoShape


def _root(g: Callable[[float], float | None], xs: list[float], target: float) -> float | None:
    """An x with g(x) = target (to 1e-9) between two neighbouring grid points.

    Illinois regula falsi: a few evaluations for the near-linear functions specs give,
    and it keeps the bracket, so a jump (no root) ends in None, never a wrong x."""
    tolerance = 1e-9 * max(abs(target), 1e-9)
    prev: float | None = None
    for j, x in enumerate(xs):
        here = g(x)
        a, prev = prev, here
        if j == 0 or a is None or here is None or (a - target) * (here - target) > 0:
            continue
        lo, hi, flo, fhi = xs[j - 1], x, a - target, here - target
        if abs(flo) <= tolerance:
            return lo
        if abs(fhi) <= tolerance:
            return hi
        kept = 0
        for _ in range(60):
            mid = (lo * fhi - hi * flo) / (fhi - flo)
            if not min(lo, hi) < mid < max(lo, hi):
                mid = (lo + hi) / 2
            v = g(mid)
            if v is None:
                break
            fm = v - target
            if abs(fm) <= tolerance:
                return mid
            if fm * fhi > 0:
                hi, fhi = mid, fm
                flo = flo / 2 if kept == -1 else flo
                kept = -1
            else:
                lo, flo = mid, fm
                fhi = fhi / 2 if kept == 1 else fhi
                kept = 1
    return None
