"""A small PromQL evaluator for synthetic test input, following Prometheus 2.42. Pure.

The check scenarios (generator/proofs/check_scenarios.py) use it to predict what a rule
expression gives at an evaluation time, so the promtool tests they write can assert exact
alert labels and `$value`s. It covers the subset promspec's specs use: instant and range
selectors (with offset), rate/irate/increase/delta, *_over_time, deriv/predict_linear,
histogram_quantile, clamp*, abs and friends, absent, time/vector/scalar, the aggregations
sum/avg/min/max/count/group with by/without, arithmetic and comparison operators with
one-to-one vector matching (on/ignoring, bool) and and/or/unless. Anything else raises
Unsupported with the reason: a scenario is never built on a guess.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import promql_parser as pp

from generator.promql.fragments import Matcher
from generator.proofs.series import Unsupported, matches

LOOKBACK = 300.0  # Prometheus' default lookback delta for instant selectors
NAME = "__name__"

Labels = tuple[tuple[str, str], ...]  # sorted, __name__ included for raw series


def labels_of(d: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in d.items() if v != ""))


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float

    def get(self, name: str) -> str:
        return dict(self.labels).get(name, "")


Vector = list[Sample]
Value = float | Vector


class Storage:
    """Series and their samples (time, value), in time order."""

    def __init__(self) -> None:
        self.series: dict[Labels, list[tuple[float, float]]] = {}
        # Per series: sample times (for bisection) and labels as a dict (for select).
        self._times: dict[Labels, list[float]] = {}
        self._dicts: dict[Labels, dict[str, str]] = {}
        self._unordered: set[Labels] = set()  # added out of time order: scanned instead

    def add(self, labels: Labels, t: float, v: float) -> None:
        self.extend(labels, [(t, v)])

    def extend(self, labels: Labels, samples: list[tuple[float, float]]) -> None:
        """Samples of one series, appended after those it has."""
        if not samples:
            return
        have = self.series.get(labels)
        if have is None:
            have = self.series[labels] = []
            self._times[labels] = []
            self._dicts[labels] = dict(labels)
        times = self._times[labels]
        new = [t for t, _ in samples]
        if (times and new[0] < times[-1]) or any(b < a for a, b in pairwise(new)):
            self._unordered.add(labels)
        have.extend(samples)
        times.extend(new)

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> list[Labels]:
        out = []
        for labels, d in self._dicts.items():
            if name and d.get(NAME) != name:
                continue
            if matches(d, matchers):
                out.append(labels)
        return out

    def latest(self, labels: Labels, t: float) -> float | None:
        """The newest sample within the lookback delta before t (t included)."""
        if labels in self._unordered:
            for ts, v in reversed(self.series[labels]):
                if ts <= t + 1e-9:
                    return v if ts > t - LOOKBACK + 1e-9 else None
            return None
        i = bisect_right(self._times[labels], t + 1e-9) - 1
        if i < 0:
            return None
        ts, v = self.series[labels][i]
        return v if ts > t - LOOKBACK + 1e-9 else None

    def range(self, labels: Labels, start: float, end: float) -> list[tuple[float, float]]:
        """Samples in [start, end], both ends included as in Prometheus 2.x."""
        samples = self.series[labels]
        if labels in self._unordered:
            return [(ts, v) for ts, v in samples if start - 1e-9 <= ts <= end + 1e-9]
        times = self._times[labels]
        return samples[bisect_left(times, start - 1e-9) : bisect_right(times, end + 1e-9)]


# Selectors' matchers by node: the evaluator reads the same nodes at every tick.
_MATCHERS: dict[int, tuple[Any, tuple[str | None, tuple[Matcher, ...]]]] = {}


def _matchers(sel: Any) -> tuple[str | None, tuple[Matcher, ...]]:
    hit = _MATCHERS.get(id(sel))
    if hit is not None and hit[0] is sel:
        return hit[1]
    found = _read_matchers(sel)
    if len(_MATCHERS) >= 100_000:  # a long-lived process: do not hold every tree
        _MATCHERS.clear()
    _MATCHERS[id(sel)] = (sel, found)  # the node is kept, so its id is not reused
    return found


def _read_matchers(sel: Any) -> tuple[str | None, tuple[Matcher, ...]]:
    ops = {
        "MatchOp.Equal": "=",
        "MatchOp.NotEqual": "!=",
        "MatchOp.Re": "=~",
        "MatchOp.NotRe": "!~",
    }
    name = sel.name or None
    out = []
    for m in sel.matchers.matchers:
        if m.name == NAME and m.op == pp.MatchOp.Equal and name is None:
            name = m.value
            continue
        if m.name == NAME and name == m.value:
            continue
        out.append(Matcher(m.name, ops[str(m.op)], m.value))
    if sel.matchers.or_matchers:
        raise Unsupported("'or' inside a selector")
    if sel.at is not None:
        raise Unsupported("'@' modifiers")
    return name, tuple(out)


def _offset(sel: Any) -> float:
    return float(sel.offset.total_seconds()) if sel.offset is not None else 0.0


def drop_name(labels: Labels) -> Labels:
    return tuple(p for p in labels if p[0] != NAME)


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * (1 if math.copysign(1, b) > 0 else -1)
    return a / b


def _pow(a: float, b: float) -> float:
    try:
        return float(math.pow(a, b))
    except (OverflowError, ValueError):
        return math.nan if a < 0 else math.inf


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": lambda a, b: math.fmod(a, b) if b != 0 else math.nan,
    "^": _pow,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}
_SIMPLE: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": lambda v: float(math.ceil(v)) if math.isfinite(v) else v,
    "floor": lambda v: float(math.floor(v)) if math.isfinite(v) else v,
    "sqrt": lambda v: math.sqrt(v) if v >= 0 else math.nan,
    "exp": lambda v: math.exp(v) if v < 700 else math.inf,
    "ln": lambda v: math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan),
    "log2": lambda v: math.log2(v) if v > 0 else (-math.inf if v == 0 else math.nan),
    "log10": lambda v: math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan),
}


def extrapolated_rate(
    points: list[tuple[float, float]], start: float, end: float, counter: bool, is_rate: bool
) -> float | None:
    if len(points) < 2:
        return None
    result = points[-1][1] - points[0][1]
    if counter:
        last = 0.0
        for _, v in points:
            if v < last:
                result += last
            last = v
    to_start = points[0][0] - start
    to_end = end - points[-1][0]
    sampled = points[-1][0] - points[0][0]
    average = sampled / (len(points) - 1)
    if counter and result > 0 and points[0][1] >= 0:
        to_start = min(to_start, sampled * (points[0][1] / result))
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if is_rate:
        factor /= end - start
    return result * factor


def linear_regression(points: list[tuple[float, float]], at: float) -> tuple[float, float]:
    """Least-squares slope and intercept (at time `at`), as Prometheus computes them."""
    first = points[0][1]
    if all(v == first for _, v in points):
        return 0.0, first
    n = sum_x = sum_y = sum_xy = sum_x2 = 0.0
    for t, v in points:
        x = t - at
        n += 1
        sum_x += x
        sum_y += v
        sum_xy += x * v
        sum_x2 += x * x
    cov = sum_xy - sum_x * sum_y / n
    var = sum_x2 - sum_x * sum_x / n
    slope = _div(cov, var)
    return slope, sum_y / n - slope * sum_x / n


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile over (upper bound, cumulative count) pairs, as in 2.42."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for ub, c in buckets:
        merged[ub] = merged.get(ub, 0.0) + c
    bs = sorted(merged.items())
    if not bs or not math.isinf(bs[-1][0]):
        return math.nan
    if len(bs) < 2:
        return math.nan
    mono = []
    biggest = bs[0][1]
    for ub, c in bs:  # ensureMonotonic
        biggest = max(biggest, c)
        mono.append((ub, biggest))
    bs = mono
    observations = bs[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(bs) - 1) if bs[i][1] >= rank), len(bs) - 1)
    if b == len(bs) - 1:
        return bs[-2][0]
    if b == 0 and bs[0][0] <= 0:
        return bs[0][0]
    start, end, count = 0.0, bs[b][0], bs[b][1]
    if b > 0:
        start = bs[b - 1][0]
        count -= bs[b - 1][1]
        rank -= bs[b - 1][1]
    return start + (end - start) * _div(rank, count)


def _parse_le(text: str) -> float | None:
    try:
        return float(text.replace("Inf", "inf"))
    except ValueError:
        return None


class Evaluator:
    """Evaluates parsed expressions against a Storage at one time."""

    def __init__(self, storage: Storage, t: float) -> None:
        self.storage, self.t = storage, t

    def eval(self, node: Any) -> Value:
        kind = type(node).__name__
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise Unsupported(f"PromQL {kind} is not modelled")
        result: Value = method(node)
        return result

    def vector(self, node: Any) -> Vector:
        v = self.eval(node)
        if isinstance(v, float):
            raise Unsupported("a scalar where a vector is needed")
        return v

    # -- leaves ------------------------------------------------------------------------
    def _NumberLiteral(self, node: Any) -> float:
        return float(node.val)

    def _ParenExpr(self, node: Any) -> Value:
        return self.eval(node.expr)

    def _UnaryExpr(self, node: Any) -> Value:
        v = self.eval(node.expr)
        if isinstance(v, float):
            return -v
        return [Sample(drop_name(s.labels), -s.value) for s in v]

    def _VectorSelector(self, node: Any) -> Vector:
        name, matchers = _matchers(node)
        at = self.t - _offset(node)
        out = []
        for labels in self.storage.select(name, matchers):
            v = self.storage.latest(labels, at)
            if v is not None:
                out.append(Sample(labels, v))
        return out

    def matrix(self, node: Any) -> list[tuple[Labels, list[tuple[float, float]], float, float]]:
        if type(node).__name__ != "MatrixSelector":
            raise Unsupported("subqueries are not modelled")
        sel = node.vector_selector
        name, matchers = _matchers(sel)
        rng = float(node.range.total_seconds())
        end = self.t - _offset(sel)
        out = []
        for labels in self.storage.select(name, matchers):
            points = self.storage.range(labels, end - rng, end)
            if points:
                out.append((labels, points, end - rng, end))
        return out

    # -- functions -----------------------------------------------------------------------
    def _Call(self, node: Any) -> Value:
        name = node.func.name
        args = list(node.args)
        if name == "time":
            return self.t
        if name == "vector":
            v = self.eval(args[0])
            return [Sample((), v)] if isinstance(v, float) else v
        if name == "scalar":
            vec = self.vector(args[0])
            return vec[0].value if len(vec) == 1 else math.nan
        if name in ("absent", "absent_over_time"):
            found = self.matrix(args[0]) if name == "absent_over_time" else self.vector(args[0])
            if found:
                return []
            return [Sample(_absent_labels(args[0]), 1.0)]
        if name in _RANGE:
            extra = [self.eval(a) for a in args[1:]]
            out = []
            for labels, points, start, end in self.matrix(args[0]):
                v = _RANGE[name](points, start, end, self.t, extra)
                if v is not None:
                    out.append(Sample(drop_name(labels), v))
            return out
        if name in _SIMPLE:
            return [
                Sample(drop_name(s.labels), _SIMPLE[name](s.value)) for s in self.vector(args[0])
            ]
        if name in ("clamp", "clamp_min", "clamp_max"):
            vec = self.vector(args[0])
            bounds = [self.eval(a) for a in args[1:]]
            if not all(isinstance(b, float) for b in bounds):
                raise Unsupported(f"{name} with non-scalar bounds")
            lo = bounds[0] if name in ("clamp", "clamp_min") else -math.inf
            hi = bounds[-1] if name in ("clamp", "clamp_max") else math.inf
            assert isinstance(lo, float) and isinstance(hi, float)
            if lo > hi:
                return []
            return [Sample(drop_name(s.labels), max(lo, min(hi, s.value))) for s in vec]
        if name == "histogram_quantile":
            q = self.eval(args[0])
            if not isinstance(q, float):
                raise Unsupported("histogram_quantile with a non-scalar quantile")
            groups: dict[Labels, list[tuple[float, float]]] = {}
            for s in self.vector(args[1]):
                le = _parse_le(s.get("le"))
                if le is None:
                    continue
                key = tuple(p for p in s.labels if p[0] not in (NAME, "le"))
                groups.setdefault(key, []).append((le, s.value))
            return [Sample(k, bucket_quantile(q, b)) for k, b in groups.items()]
        raise Unsupported(f"the function {name}() is not modelled")

    # -- aggregations --------------------------------------------------------------------
    def _AggregateExpr(self, node: Any) -> Vector:
        op = str(node.op)
        if op not in _AGG or node.param is not None:
            raise Unsupported(f"the aggregation {op} is not modelled")
        mod = node.modifier
        by = mod is not None and "By" in str(mod.type)
        names = set(mod.labels) if mod is not None else set()
        groups: dict[Labels, list[float]] = {}
        for s in self.vector(node.expr):
            key: Labels = ()  # no modifier: everything in one group
            if by:
                key = tuple(p for p in s.labels if p[0] in names)
            elif mod is not None:
                key = tuple(p for p in s.labels if p[0] not in names and p[0] != NAME)
            groups.setdefault(key, []).append(s.value)
        return [Sample(k, _AGG[op](vs)) for k, vs in groups.items()]

    # -- binary operators ----------------------------------------------------------------
    def _BinaryExpr(self, node: Any) -> Value:
        op = str(node.op)
        mod = node.modifier
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        want_bool = bool(mod is not None and mod.return_bool)
        if op in ("and", "or", "unless"):
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise Unsupported(f"'{op}' needs vectors")
            return _set_op(op, lhs, rhs, mod)
        if op not in _ARITH and op not in _COMPARE:
            raise Unsupported(f"the operator {op} is not modelled")
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in _ARITH:
                return _ARITH[op](lhs, rhs)
            return 1.0 if _COMPARE[op](lhs, rhs) else 0.0
        if isinstance(lhs, float) or isinstance(rhs, float):
            return _scalar_op(op, lhs, rhs, want_bool)
        return _vector_op(op, lhs, rhs, mod, want_bool)


def _absent_labels(node: Any) -> Labels:
    sel = node.vector_selector if type(node).__name__ == "MatrixSelector" else node
    if type(sel).__name__ != "VectorSelector":
        return ()
    seen: dict[str, str] = {}
    repeated = set()
    for m in sel.matchers.matchers:
        if m.op == pp.MatchOp.Equal and m.name != NAME:
            if m.name in seen:
                repeated.add(m.name)
            seen[m.name] = m.value
    return labels_of({k: v for k, v in seen.items() if k not in repeated})


def _irate(points: list[tuple[float, float]], counter: bool) -> float | None:
    if len(points) < 2:
        return None
    (t0, v0), (t1, v1) = points[-2], points[-1]
    diff = v1 - v0
    if counter and v1 < v0:
        diff = v1
    return diff / (t1 - t0)


def _predict(points: list[tuple[float, float]], t: float, extra: list[Value]) -> float | None:
    if len(points) < 2 or not isinstance(extra[0], float):
        return None
    slope, intercept = linear_regression(points, t)
    return slope * extra[0] + intercept


def _deriv(points: list[tuple[float, float]], t: float) -> float | None:
    if len(points) < 2:
        return None
    return linear_regression(points, points[0][0])[0]


_RANGE: dict[str, Callable[[list[tuple[float, float]], float, float, float, list[Value]], Any]] = {
    "rate": lambda p, s, e, t, x: extrapolated_rate(p, s, e, True, True),
    "increase": lambda p, s, e, t, x: extrapolated_rate(p, s, e, True, False),
    "delta": lambda p, s, e, t, x: extrapolated_rate(p, s, e, False, False),
    "irate": lambda p, s, e, t, x: _irate(p, True),
    "avg_over_time": lambda p, s, e, t, x: sum(v for _, v in p) / len(p),
    "sum_over_time": lambda p, s, e, t, x: sum(v for _, v in p),
    "min_over_time": lambda p, s, e, t, x: min(v for _, v in p),
    "max_over_time": lambda p, s, e, t, x: max(v for _, v in p),
    "count_over_time": lambda p, s, e, t, x: float(len(p)),
    "last_over_time": lambda p, s, e, t, x: p[-1][1],
    "deriv": lambda p, s, e, t, x: _deriv(p, t),
    "predict_linear": lambda p, s, e, t, x: _predict(p, t, x),
}


def _avg(vs: list[float]) -> float:
    return sum(vs) / len(vs)


_AGG: dict[str, Callable[[list[float]], float]] = {
    "sum": lambda vs: float(sum(vs)),
    "avg": _avg,
    "min": lambda vs: min(vs),
    "max": lambda vs: max(vs),
    "count": lambda vs: float(len(vs)),
    "group": lambda vs: 1.0,
}


def _signature(labels: Labels, mod: Any) -> Labels:
    matching = mod.matching if mod is not None else None
    if matching is not None and "Include" in str(matching.type):
        keep = set(matching.labels)
        return tuple(p for p in labels if p[0] in keep)
    drop = set(matching.labels) if matching is not None else set()
    return tuple(p for p in labels if p[0] != NAME and p[0] not in drop)


def _set_op(op: str, lhs: Vector, rhs: Vector, mod: Any) -> Vector:
    right = {_signature(s.labels, mod) for s in rhs}
    if op == "and":
        return [s for s in lhs if _signature(s.labels, mod) in right]
    if op == "unless":
        return [s for s in lhs if _signature(s.labels, mod) not in right]
    left = {_signature(s.labels, mod) for s in lhs}
    return lhs + [s for s in rhs if _signature(s.labels, mod) not in left]


def _scalar_op(op: str, lhs: Value, rhs: Value, want_bool: bool) -> Vector:
    vec, scalar, swap = (rhs, lhs, True) if isinstance(lhs, float) else (lhs, rhs, False)
    assert isinstance(scalar, float) and not isinstance(vec, float)
    out = []
    for s in vec:
        a, b = (scalar, s.value) if swap else (s.value, scalar)
        if op in _ARITH:
            out.append(Sample(drop_name(s.labels), _ARITH[op](a, b)))
        elif want_bool:
            out.append(Sample(drop_name(s.labels), 1.0 if _COMPARE[op](a, b) else 0.0))
        elif _COMPARE[op](a, b):
            out.append(s)
    return out


def _vector_op(op: str, lhs: Vector, rhs: Vector, mod: Any, want_bool: bool) -> Vector:
    if mod is not None and "OneToOne" not in str(mod.card):
        raise Unsupported("group_left/group_right matching is not modelled")
    right: dict[Labels, Sample] = {}
    for s in rhs:
        sig = _signature(s.labels, mod)
        if sig in right:
            raise Unsupported("the right side of a one-to-one operation has duplicate series")
        right[sig] = s
    matched: set[Labels] = set()
    out = []
    matching = mod.matching if mod is not None else None
    for s in lhs:
        sig = _signature(s.labels, mod)
        other = right.get(sig)
        if other is None:
            continue
        if sig in matched:
            raise Unsupported("the left side of a one-to-one operation has duplicate series")
        matched.add(sig)
        labels = s.labels
        if op in _ARITH or want_bool:
            labels = drop_name(labels)
        if matching is not None and "Include" in str(matching.type):
            labels = tuple(p for p in labels if p[0] in set(matching.labels))
        elif matching is not None:
            labels = tuple(p for p in labels if p[0] not in set(matching.labels))
        if op in _ARITH:
            out.append(Sample(labels, _ARITH[op](s.value, other.value)))
        elif want_bool:
            out.append(Sample(labels, 1.0 if _COMPARE[op](s.value, other.value) else 0.0))
        elif _COMPARE[op](s.value, other.value):
            out.append(Sample(labels, s.value))
    return out


def parse(text: str) -> Any:
    try:
        return pp.parse(text)
    except (ValueError, TypeError) as exc:
        raise Unsupported(f"cannot parse {text!r}: {exc}") from exc


def evaluate(storage: Storage, node: Any, t: float) -> Value:
    return Evaluator(storage, t).eval(node)


def ranges(node: Any) -> list[float]:
    """Every range (and offset) an expression reads back over, in seconds."""
    found: list[float] = []

    def visit(n: Any) -> None:
        if type(n).__name__ == "MatrixSelector":
            found.append(float(n.range.total_seconds()) + _offset(n.vector_selector))
        elif type(n).__name__ == "VectorSelector" and n.offset is not None:
            found.append(_offset(n))

    pp.transform(node, pre_visit=visit)
    return found


def offsets(node: Any) -> list[float]:
    """Every offset of an expression's selectors, in seconds."""
    found: list[float] = []

    def visit(n: Any) -> None:
        if type(n).__name__ == "VectorSelector" and n.offset is not None:
            found.append(_offset(n))

    pp.transform(node, pre_visit=visit)
    return found
