"""PromQL fragments from specs: parse, check shape, merge the service selector, print.

User PromQL is never pasted into rules as text: it is parsed, rewritten on the AST and
printed back by the parser's canonical printer, so a label value cannot break out of
its quotes and a fragment cannot smuggle in a second expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

_OPS = {
    str(pp.MatchOp.Equal): "=",
    str(pp.MatchOp.NotEqual): "!=",
    str(pp.MatchOp.Re): "=~",
    str(pp.MatchOp.NotRe): "!~",
}


# Bounds on what a spec may hand the parser. The parser recurses (a few thousand nested
# parentheses overflow its stack and kill the process) and the canonical printer indents
# by depth, so a long operator chain prints quadratically; real expressions stay far below.
MAX_FRAGMENT_CHARS = 2_000  # a PromQL fragment in a spec
MAX_RULE_CHARS = 100_000  # a whole rule expression as a template wrote it
MAX_NESTING = 40  # brackets open at once, or signs in a row
MAX_CANONICAL_CHARS = 20_000  # a fragment as printed in canonical form


class PromQLError(ValueError):
    """A fragment is not valid PromQL or not of the shape required."""


class PromQLTooComplex(PromQLError):
    """A fragment over the size bounds; the run stops, so one cannot cost minutes each."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # one of = != =~ !~
    value: str

    def text(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"


# What JSON escapes in a string (ensure_ascii off): quotes, backslashes, control characters.
_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')


def quote(value: str) -> str:
    """A PromQL string literal; JSON escaping is a subset PromQL reads the same way.

    Every label value of every printed selector comes through here (~2,000 per
    service): most need no escaping, and json.dumps costs six times the plain quoting."""
    if _JSON_ESCAPED.search(value):
        return json.dumps(value, ensure_ascii=False)
    return f'"{value}"'


def parse(text: str, max_chars: int = MAX_FRAGMENT_CHARS) -> Any:
    if len(text) > max_chars:
        raise PromQLTooComplex(
            f"the expression is {len(text)} characters, over the limit of {max_chars}; "
            "record parts of it in your own recording rules"
        )
    if _may_nest_too_deep(text) and (depth := nesting(text)) > MAX_NESTING:
        raise PromQLTooComplex(
            f"the expression nests {depth} levels deep, over the limit of {MAX_NESTING}; "
            "remove redundant parentheses or signs"
        )
    try:
        return pp.parse(text)
    except (ValueError, TypeError) as exc:
        raise PromQLError(f"invalid PromQL: {_first_line(str(exc))}") from exc


def _may_nest_too_deep(text: str) -> bool:
    """Whether `nesting` must scan: no text nests deeper than its count of opening
    brackets, nor has a longer run of signs than its count of signs. Counting is done in
    C; the scan is a Python loop over every character of every expression."""
    openers = text.count("(") + text.count("[") + text.count("{")
    return max(openers, text.count("+") + text.count("-")) > MAX_NESTING


def nesting(text: str) -> int:
    """The deepest bracket nesting, or the longest run of signs, outside string literals."""
    deepest = depth = signs = 0
    quote_char = ""
    escaped = False
    for ch in text:
        if quote_char:
            if escaped:
                escaped = False
            elif ch == "\\" and quote_char != "`":
                escaped = True
            elif ch == quote_char:
                quote_char = ""
            continue
        if ch in "\"'`":
            quote_char = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if ch in "+-":
            signs += 1
        elif not ch.isspace():
            signs = 0
        deepest = max(deepest, depth, signs)
    return deepest


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "parse error"


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """'{job="api", env=~"prod.*"}' -> matchers; the text must be a bare matcher list."""
    expr = parse(text)
    if not isinstance(expr, pp.VectorSelector) or expr.name or expr.offset or expr.at:
        raise PromQLError(
            'write one matcher list like {job="api"}, without metric name, operators or functions'
        )
    return matchers_of(expr)


def matchers_of(selector: Any) -> tuple[Matcher, ...]:
    """A parsed selector's matchers, its metric name left out."""
    out = []
    for m in selector.matchers.matchers:
        if m.name == "__name__" and selector.name == m.value:
            continue  # the metric name itself, printed before the braces
        out.append(Matcher(m.name, _OPS[str(m.op)], m.value))
    if selector.matchers.or_matchers:
        raise PromQLError("'or' inside a selector is not supported by Prometheus 2.x; split it")
    return tuple(out)


def selector_text(metric: str | None, matchers: Iterable[Matcher]) -> str:
    """Print a selector from parts we control, quoting every value."""
    body = ",".join(m.text() for m in matchers)
    if metric:
        return f"{metric}{{{body}}}" if body else metric
    return f"{{{body}}}"


def merge(selector: Any, extra: tuple[Matcher, ...]) -> Any:
    """The selector with the service matchers added where it does not match that label."""
    own = matchers_of(selector)
    names = {m.name for m in own}
    added = [m for m in extra if m.name not in names]
    if not added:
        return None
    text = selector_text(selector.name, (*own, *added))
    if selector.offset is not None:
        text += f" offset {_seconds(selector.offset)}s"
    if selector.at is not None:
        raise PromQLError("'@' modifiers are not supported in spec expressions")
    return pp.parse(text)


def _seconds(delta: Any) -> int:
    return int(delta.total_seconds())


def canonical(text: str, extra: tuple[Matcher, ...] = (), *, rule: bool = False) -> str:
    """Parse any expression, merge the service matchers into each selector, print it.

    rule=True is for whole rule expressions that templates built around checked fragments."""
    return canonical_tree(text, extra, rule=rule)[1]


def canonical_tree(
    text: str, extra: tuple[Matcher, ...] = (), *, rule: bool = False
) -> tuple[Any, str]:
    """canonical(), with the parsed tree it printed: rules embed the tree itself, so a
    fragment is parsed once."""
    expr = parse(text, MAX_RULE_CHARS if rule else MAX_FRAGMENT_CHARS)
    if extra:
        expr = pp.transform(
            expr,
            pre_visit=lambda n: merge(n, extra) if isinstance(n, pp.VectorSelector) else None,
        )
    printed = str(expr.prettify())
    if not rule and len(printed) > MAX_CANONICAL_CHARS:
        raise PromQLTooComplex(
            f"the expression prints as {len(printed)} characters, over the limit of "
            f"{MAX_CANONICAL_CHARS}; long operator chains nest deeply, group them with "
            "parentheses or record parts in your own recording rules"
        )
    return expr, printed


def plain_selector(text: str, extra: tuple[Matcher, ...] = ()) -> tuple[str, tuple[Matcher, ...]]:
    """A bare series selector (no functions, ranges or operators): its name and matchers."""
    expr = parse(text)
    if not isinstance(expr, pp.VectorSelector):
        raise PromQLError(
            "a plain series selector is required here, like "
            'http_requests_total{code=~"5.."}; move functions and operators out'
        )
    if expr.offset is not None or expr.at is not None:
        raise PromQLError("a plain series selector takes no offset or '@' modifier")
    if not expr.name:
        raise PromQLError("the selector needs a metric name")
    own = matchers_of(expr)
    names = {m.name for m in own}
    return expr.name, own + tuple(m for m in extra if m.name not in names)


def validate_label_value(value: str) -> str | None:
    """Why a label value cannot go into an alert label, or None if it can."""
    if "{{" in value or "}}" in value:
        return "label values must not contain '{{' or '}}' (Prometheus would run them as templates)"
    if len(value) > 1024:
        return "label values are at most 1024 characters"
    return None


def vector_selectors(text: str) -> list[tuple[str, tuple[Matcher, ...]]]:
    """Every series selector a rule expression reads (metric name and matchers), in order."""
    found: list[tuple[str, tuple[Matcher, ...]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            found.append((node.name or "", matchers_of(node)))

    pp.transform(parse(text, MAX_RULE_CHARS), pre_visit=visit)
    return found


def grouping_labels(text: str) -> set[str]:
    """Labels named in the `by (...)` clauses of an expression's aggregations."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        modifier = getattr(node, "modifier", None)
        if isinstance(node, pp.AggregateExpr) and modifier and "without" not in str(modifier):
            found.update(modifier.labels)

    pp.transform(parse(text, MAX_RULE_CHARS), pre_visit=visit)
    return found
