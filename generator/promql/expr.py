"""PromQL as data: expression nodes, a converter from the parser's tree, one printer.

Rules are reviewed in pull requests, so every expression prints the same way: on one line
when it fits, otherwise one operand per line, each nested call or aggregation indented
by two under its opening line (never the parser's staircase, which indents every level
of a binary chain). The printer adds the parentheses precedence needs, so builders
compose nodes without thinking about them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import promql_parser as pp

from generator.promql.fragments import Matcher, matchers_of, quote, selector_text
from generator.units import format_duration, format_number

WIDTH = 100  # characters an expression line may take, its indentation included

# Binary operators by precedence, loosest first (the Prometheus grammar's order).
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 6,
}
_TIGHTEST = 7  # selectors, calls, literals


class Expr:
    """A PromQL expression node."""

    def __str__(self) -> str:
        return line(self)


@dataclass(frozen=True)
class Selector(Expr):
    metric: str | None
    matchers: tuple[Matcher, ...] = ()
    range_: float | None = None  # seconds: a range selector
    offset: float | None = None  # seconds


@dataclass(frozen=True)
class Number(Expr):
    value: float


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Aggregate(Expr):
    op: str
    expr: Expr
    labels: tuple[str, ...] | None = None  # None: no clause
    without: bool = False
    param: Expr | None = None


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    bool_: bool = False
    on: tuple[str, ...] | None = None
    ignoring: tuple[str, ...] | None = None
    group: str | None = None  # "group_left" or "group_right"
    group_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paren(Expr):
    expr: Expr


@dataclass(frozen=True)
class Negative(Expr):
    expr: Expr


@dataclass(frozen=True)
class Verbatim(Expr):
    """What the builders have no node for (a subquery, `@`), as the parser prints it."""

    text: str


def sel(metric: str | None, matchers: Sequence[Matcher] = (), **labels: str) -> Selector:
    extra = tuple(Matcher(k, "=", v) for k, v in labels.items())
    return Selector(metric, (*matchers, *extra))


def binary(op: str, *operands: Expr | float, **modifiers: Any) -> Expr:
    """operands[0] op operands[1] op ..., left to right; numbers become literals."""
    nodes = [o if isinstance(o, Expr) else Number(float(o)) for o in operands]
    out = nodes[0]
    for node in nodes[1:]:
        out = Binary(op, out, node, **modifiers)
    return out


def precedence(node: Expr) -> int:
    return _PRECEDENCE[node.op] if isinstance(node, Binary) else _TIGHTEST


def _operand(node: Expr, parent: Binary, right: bool) -> Expr:
    """The operand, in parentheses where precedence would otherwise regroup it."""
    mine, theirs = precedence(node), precedence(parent)
    right_assoc = parent.op == "^"
    if mine < theirs or (mine == theirs and right != right_assoc):
        return Paren(node)
    if isinstance(node, Negative) and theirs >= _PRECEDENCE["*"]:
        return Paren(node)
    return node


def _modifiers(node: Binary) -> str:
    parts = [node.op]
    if node.bool_:
        parts.append("bool")
    if node.on is not None:
        parts.append(f"on ({', '.join(node.on)})")
    if node.ignoring is not None:
        parts.append(f"ignoring ({', '.join(node.ignoring)})")
    if node.group:
        labels = f" ({', '.join(node.group_labels)})" if node.group_labels else ""
        parts.append(node.group + labels)
    return " ".join(parts)


def _aggregate_head(node: Aggregate) -> str:
    if node.labels is None:
        return node.op
    return f"{node.op} {'without' if node.without else 'by'} ({', '.join(node.labels)})"


def line(node: Expr) -> str:
    """The expression on one line."""
    return _line(node, None)


# Texts already printed within one layout, by node id; each holds its node, so that no
# other node takes its id while the layout runs.
_Printed = dict[int, tuple[Expr, str]]


def _line(node: Expr, printed: _Printed | None) -> str:
    if printed is not None and id(node) in printed:
        return printed[id(node)][1]
    text = _flat(node, printed)
    if printed is not None:
        printed[id(node)] = (node, text)
    return text


def _flat(node: Expr, printed: _Printed | None) -> str:
    if isinstance(node, Selector):
        text = selector_text(node.metric, node.matchers)
        if node.range_ is not None:
            text += f"[{format_duration(node.range_)}]"
        if node.offset is not None:
            text += f" offset {format_duration(node.offset)}"
        return text
    if isinstance(node, Number):
        return format_number(node.value)
    if isinstance(node, String):
        return quote(node.value)
    if isinstance(node, Call):
        return f"{node.func}({', '.join(_line(a, printed) for a in node.args)})"
    if isinstance(node, Aggregate):
        param = f"{_line(node.param, printed)}, " if node.param is not None else ""
        head = _aggregate_head(node)
        space = " " if node.labels is not None else ""
        return f"{head}{space}({param}{_line(node.expr, printed)})"
    if isinstance(node, Binary):
        lhs = _line(_operand(node.lhs, node, right=False), printed)
        rhs = _line(_operand(node.rhs, node, right=True), printed)
        return f"{lhs} {_modifiers(node)} {rhs}"
    if isinstance(node, Paren):
        return f"({_line(node.expr, printed)})"
    if isinstance(node, Negative):
        return f"-{_line(node.expr, printed)}"
    if isinstance(node, Verbatim):
        return node.text
    raise TypeError(f"not an expression node: {node!r}")


def layout(node: Expr, indent: int = 0) -> str:
    """The expression on one line if it fits in WIDTH, else one operand per line."""
    # Each level that does not fit prints its operands again to try them: printed once.
    return "\n".join(_lines(node, indent, {}))


def _lines(node: Expr, indent: int, printed: _Printed) -> list[str]:
    pad = " " * indent
    flat = _line(node, printed)
    if indent + len(flat) <= WIDTH or (indent + len(flat) <= _SMALL_WIDTH and _small(node)):
        return [pad + flat]
    if isinstance(node, Binary):
        # a op b op c ...: the chain of one operator, each operand under the first, with
        # its own modifiers (`and on (x)`, `and ignoring (y)`): operators of one
        # precedence group left to right, so the flat chain parses back the same. `^`
        # groups right to left: never chained.
        chain: list[tuple[Binary, Expr]] = [(node, node.rhs)]
        first: Expr = node.lhs
        while isinstance(first, Binary) and first.op == node.op and node.op != "^":
            chain.append((first, first.rhs))
            first = first.lhs
        # A first operand that is itself a chain binds tighter (else it is in
        # parentheses), so its operands go on under this chain's, at the same indent:
        # `a\n- b\n>= 0\nor c` reads and parses as (a - b >= 0) or c, without the
        # staircase that indenting each nested level would print.
        first = _operand(first, node, right=False)
        out = _lines(first, indent, printed)
        for parent, operand in reversed(chain):
            operand = _operand(operand, parent, right=True)
            body = _lines(operand, indent + 2 if isinstance(operand, Binary) else indent, printed)
            out.append(f"{pad}{_modifiers(parent)} {body[0].lstrip()}")
            out.extend(body[1:])
        return out
    if isinstance(node, Aggregate):
        inner = [node.expr] if node.param is None else [node.param, node.expr]
        space = " " if node.labels is not None else ""
        return _wrapped(f"{pad}{_aggregate_head(node)}{space}(", inner, indent, printed)
    if isinstance(node, Call) and not all(isinstance(a, _LEAVES) for a in node.args):
        return _wrapped(f"{pad}{node.func}(", list(node.args), indent, printed)
    if isinstance(node, Paren):
        return [f"{pad}(", *_lines(node.expr, indent + 2, printed), f"{pad})"]
    return [pad + flat]  # selectors, literals: never broken


_LEAVES = (Selector, Number, String, Verbatim)
# A comparison or arithmetic of this many plain operands stays on one line up to
# _SMALL_WIDTH: `a - a offset 5m >= 0` reads worse broken than long.
_SMALL = 3
_SMALL_WIDTH = 160


def _small(node: Expr) -> bool:
    """A few plain operands (`a - a offset 5m >= 0`) read best on one line, however long."""

    def atoms(n: Expr) -> int:
        if isinstance(n, _LEAVES):
            return 1
        if isinstance(n, Call) and all(isinstance(a, _LEAVES) for a in n.args):
            return 1
        if isinstance(n, Call) and len(n.args) == 1:  # round(a * 3600) >= 2: as a * 3600 >= 2
            return atoms(n.args[0])
        if isinstance(n, Negative | Paren):
            return atoms(n.expr)
        if isinstance(n, Binary) and n.op not in ("or", "and", "unless"):
            return atoms(n.lhs) + atoms(n.rhs)
        return _SMALL + 1

    return atoms(node) <= _SMALL


def _wrapped(opening: str, args: list[Expr], indent: int, printed: _Printed) -> list[str]:
    out = [opening]
    for i, arg in enumerate(args):
        body = _lines(arg, indent + 2, printed)
        if i < len(args) - 1:
            body[-1] += ","
        out.extend(body)
    out.append(" " * indent + ")")
    return out


def from_parsed(node: Any) -> Expr:
    """The parser's tree (promql_parser) as our nodes, for printing user expressions."""
    if isinstance(node, pp.VectorSelector):
        return _selector(node, None)
    if isinstance(node, pp.MatrixSelector):
        return _selector(node.vector_selector, node.range.total_seconds())
    if isinstance(node, pp.NumberLiteral):
        return Number(node.val)
    if isinstance(node, pp.StringLiteral):
        return String(node.val)
    if isinstance(node, pp.ParenExpr):
        return Paren(from_parsed(node.expr))
    if isinstance(node, pp.UnaryExpr):
        return Negative(from_parsed(node.expr))
    if isinstance(node, pp.Call):
        return Call(node.func.name, tuple(from_parsed(a) for a in node.args))
    if isinstance(node, pp.AggregateExpr):
        labels = None
        without = False
        if node.modifier is not None:
            labels = tuple(node.modifier.labels)
            without = node.modifier.type == pp.AggModifierType.Without
        param = from_parsed(node.param) if node.param is not None else None
        return Aggregate(str(node.op), from_parsed(node.expr), labels, without, param)
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    return Verbatim(str(node.prettify()))


def printed_order(node: Expr) -> Expr:
    """The expression with every selector's matchers in the order the parser's canonical
    printer writes them (sorted by their text), so that a fragment from a spec reads in
    a rule as it does in its canonical text (dashboards, docs)."""
    if isinstance(node, Selector):
        return replace(node, matchers=tuple(sorted(node.matchers, key=Matcher.text)))
    changes: dict[str, Any] = {}
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, Expr):
            changes[f.name] = printed_order(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], Expr):
            changes[f.name] = tuple(printed_order(v) for v in value)
    return replace(node, **changes) if changes else node  # type: ignore[type-var]


def _selector(node: Any, range_: float | None) -> Expr:
    if node.at is not None:
        text = node.prettify()
        return Verbatim(f"{text}[{format_duration(range_)}]" if range_ is not None else text)
    offset = node.offset.total_seconds() if node.offset is not None else None
    return Selector(node.name or None, matchers_of(node), range_, offset)


def _binary(node: Any) -> Expr:
    modifier = node.modifier
    options: dict[str, Any] = {}
    if modifier is not None:
        options["bool_"] = bool(modifier.return_bool)
        matching = modifier.matching
        if matching is not None:
            key = "on" if matching.type == pp.LabelModifierType.Include else "ignoring"
            options[key] = tuple(matching.labels)
        card = modifier.card
        if card == pp.VectorMatchCardinality.ManyToOne:
            options["group"] = "group_left"
        elif card == pp.VectorMatchCardinality.OneToMany:
            options["group"] = "group_right"
        if options.get("group"):
            options["group_labels"] = tuple(modifier.group_labels or ())
    return Binary(str(node.op), from_parsed(node.lhs), from_parsed(node.rhs), **options)
