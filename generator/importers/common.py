"""What importers share: reduce a foreign SLI query to a promspec selector, name things
the way promspec does, and print the resulting specs.

Importers never guess: what cannot be carried over exactly becomes a note (file:line,
field, why, and what to write instead) and is left out of the spec. A source its own tool
would refuse (a field of the wrong type) is an error instead: nothing is imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import promql_parser as pp
import yaml

from generator.errors import Problem
from generator.promql import fragments as promql
from generator.spec import validate
from generator.spec.load import Document, Path_

if TYPE_CHECKING:
    import jsonschema

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# Functions that turn a counter into a per-second rate; the window is promspec's to choose.
_RATE_FUNCTIONS = ("rate", "increase")


class NotCarried(ValueError):
    """This part of the source has no exact promspec equivalent; the message says why."""


@dataclass(frozen=True)
class Reduced:
    """A counter query as promspec reads it: a selector, and labels kept by `sum by`."""

    selector: str
    group_by: tuple[str, ...] = ()


def reduce_counter_query(text: str, window_placeholder: str | None = None) -> Reduced:
    """`sum(rate(x{a="b"}[5m]))`, `rate(x[1m])`, `sum by (route) (increase(...))` or a bare
    counter selector -> the selector (and the `by` labels)."""
    metric, matchers, group_by = _counter(_parse(text, window_placeholder))
    return Reduced(promql.selector_text(metric, matchers), group_by)


@dataclass(frozen=True)
class Latency:
    """A latency SLI as promspec's indicator.latency reads it."""

    histogram: str  # base name with matchers, without _bucket / _count
    threshold: float  # seconds: the `le` of the bucket counted as good
    group_by: tuple[str, ...] = ()


def reduce_latency_query(errors: str, total: str, window_placeholder: str | None = None) -> Latency:
    """Slow events written the usual way, `sum(rate(h_count[w])) - sum(rate(h_bucket{le="0.4"}
    [w]))` out of `sum(rate(h_count[w]))`: the histogram h and the threshold 0.4."""
    expr = _unwrap(_parse(errors, window_placeholder))
    if not isinstance(expr, pp.BinaryExpr) or str(expr.op) != "-" or expr.modifier is not None:
        raise NotCarried("it is neither one counter's rate nor a histogram's _count less a bucket")
    count, count_matchers, group_by = _counter(expr.lhs)
    bucket, bucket_matchers, bucket_by = _counter(expr.rhs)
    if not count.endswith("_count") or not bucket.endswith("_bucket"):
        raise NotCarried("a latency SLI subtracts a histogram's _bucket from its _count")
    base = count.removesuffix("_count")
    if bucket.removesuffix("_bucket") != base:
        raise NotCarried(f"{count} and {bucket} are not the same histogram")
    le = [m for m in bucket_matchers if m.name == "le"]
    if len(le) != 1 or le[0].op != "=":
        raise NotCarried('the bucket needs exactly one le="<seconds>" matcher')
    try:
        threshold = float(le[0].value)
    except ValueError:
        raise NotCarried(f'le="{le[0].value}" is not a number of seconds') from None
    if not 0 < threshold < float("inf"):
        raise NotCarried(f'le="{le[0].value}" is not a finite bucket boundary')
    others = tuple(m for m in bucket_matchers if m.name != "le")
    if set(others) != set(count_matchers) or bucket_by != group_by:
        raise NotCarried("the _count and the _bucket select different series")
    total_metric, total_matchers, total_by = _counter(_parse(total, window_placeholder))
    if total_metric != count or set(total_matchers) != set(count_matchers) or total_by != group_by:
        raise NotCarried(f"total_query is not the rate of {count} that error_query starts from")
    return Latency(promql.selector_text(base, count_matchers), threshold, group_by)


def reduce_quantile_query(text: str) -> tuple[Latency, float]:
    """`histogram_quantile(0.99, sum by (le) (rate(h_bucket{...}[5m])))` -> the histogram h
    (threshold left 0: the level comes from elsewhere) and the quantile 0.99."""
    expr = _unwrap(_parse(text, None))
    if not isinstance(expr, pp.Call) or expr.func.name != "histogram_quantile":
        raise NotCarried("it is not histogram_quantile(...) over a histogram's buckets")
    quantile = _unwrap(expr.args[0])
    if not isinstance(quantile, pp.NumberLiteral) or not 0 < quantile.val < 1:
        raise NotCarried("the quantile is not a number between 0 and 1")
    metric, matchers, group_by = _counter(expr.args[1])
    if not metric.endswith("_bucket") or "le" not in group_by:
        raise NotCarried("the quantile is not taken over a _bucket series summed by le")
    if any(m.name == "le" for m in matchers):
        raise NotCarried("the buckets are selected by le")
    base = metric.removesuffix("_bucket")
    kept = tuple(label for label in group_by if label != "le")
    return Latency(promql.selector_text(base, matchers), 0.0, kept), float(quantile.val)


def _parse(text: str, window_placeholder: str | None) -> Any:
    if window_placeholder:
        text = re.sub(window_placeholder, "5m", text)
    try:
        return promql.parse(text)
    except promql.PromQLError as exc:
        raise NotCarried(str(exc)) from exc


def _unwrap(expr: Any) -> Any:
    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    return expr


def _counter(expr: Any) -> tuple[str, tuple[promql.Matcher, ...], tuple[str, ...]]:
    """A parsed counter query: its metric, matchers and `sum by` labels."""
    group_by: tuple[str, ...] = ()
    expr = _unwrap(expr)
    if isinstance(expr, pp.AggregateExpr):
        op = str(expr.op).lower()
        if op != "sum" or expr.param is not None:
            raise NotCarried(f"'{op}' is not a sum of counter rates")
        if expr.modifier is not None:
            if "without" in str(expr.modifier):
                raise NotCarried("'sum without' keeps labels promspec cannot list; use 'sum by'")
            group_by = tuple(expr.modifier.labels)
        expr = _unwrap(expr.expr)
    if isinstance(expr, pp.Call):
        name = expr.func.name
        if name not in _RATE_FUNCTIONS or not isinstance(expr.args[0], pp.MatrixSelector):
            raise NotCarried(f"'{name}(...)' is not rate() or increase() over a counter")
        expr = expr.args[0].vector_selector
    if not isinstance(expr, pp.VectorSelector):
        raise NotCarried(
            "it is not a plain rate() of one counter; promspec reads each SLI side as one "
            "selector so that long windows can be summed from a recorded 5m rate"
        )
    if expr.offset is not None or expr.at is not None:
        raise NotCarried("offset and '@' modifiers cannot be carried over")
    if not expr.name:
        raise NotCarried("the selector has no metric name")
    try:
        matchers = promql.matchers_of(expr)
    except promql.PromQLError as exc:
        raise NotCarried(str(exc)) from exc
    return expr.name, matchers, group_by


def name(text: str) -> str:
    """A promspec name from a foreign one: lower case, other characters as '-'."""
    out = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    if out and not out[0].isalpha():
        out = "x-" + out
    return out[:63]


@cache
def _validator(schema_file: str, definition: str) -> jsonschema.protocols.Validator:
    """A validator for one definition of an import schema (generator/spec/schema/import-*.json);
    "" for the whole schema."""
    import jsonschema  # only the import commands need it

    schema = json.loads(resources.files("generator.spec.schema").joinpath(schema_file).read_text())
    if definition:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"]}
        schema["$ref"] = f"#/$defs/{definition}"
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def malformed(
    doc: Document, schema_file: str, instance: Any, at: Path_ = (), definition: str = ""
) -> list[Problem]:
    """Where `instance` (the part of `doc` at `at`) breaks the types its own tool requires
    of the fields an importer reads: the importer can trust those types after this."""
    return validate.schema_problems(doc, _validator(schema_file, definition), instance, at)


def note(doc: Document, path: tuple[str | int, ...], message: str) -> Problem:
    """A note about a part of the source, pointing at its line (or the nearest parent's)."""
    return doc.problem(path, message)


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def dump_specs(specs: list[dict[str, Any]], origin: str) -> str:
    """The specs as YAML documents, in the order of the fields in docs/spec.md."""
    header = (
        f"# Imported by promspec from {origin}.\n"
        "# Review the notes the import printed; set runbook_base_url (and team, if missing)\n"
        "# here or in _defaults.yaml.\n"
    )
    docs = [
        yaml.dump(spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
        for spec in specs
    ]
    return header + "---\n".join(docs)


def percent(value: float) -> float | int:
    """99.9 stays 99.9; 99.0 prints as 99."""
    rounded = round(value, 10)
    return int(rounded) if rounded == int(rounded) else rounded
