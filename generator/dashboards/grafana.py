"""Glue to grafana-foundation-sdk shared by the dashboards: queries, units, thresholds,
panel ids, and the one deterministic JSON encoding.

Every query goes through the PromQL printer, which prints it the way the rule files do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from generator import conventions
from generator.promql import expr as expr_
from generator.promql import fragments as promql
from generator.spec.model import Level

DATASOURCE = cm.DataSourceRef(type_val="prometheus", uid=f"${{{conventions.DATASOURCE_VARIABLE}}}")

SEVERITY_COLORS = {"critical": "red", "warning": "orange", "info": "blue"}
OK_COLOR = "green"

# Spec units -> Grafana units and the decimals people want to read.
UNITS = {
    "none": ("none", None),
    "count": ("short", 0),
    "percent": ("percent", 1),
    "ratio": ("percentunit", 2),
    "seconds": ("s", 2),
    "bytes": ("bytes", 1),
    "requests_per_second": ("reqps", 2),
}
BURN_RATE_UNIT = "suffix:x"  # as the alerts say it: "14.4x the sustainable rate"


class DashboardError(Exception):
    """A generated dashboard is broken: a promspec bug, never a user mistake."""


def query(
    expr: expr_.Expr | str, legend: str = "__auto", *, instant: bool = False, table: bool = False
) -> prometheus.Dataquery:
    """A Prometheus query; instant ones read the latest value only, tables keep labels.

    Built as expression nodes (printed once, as in the rule files), or as text, which is
    parsed to prove it (the overview's few queries)."""
    if isinstance(expr, str):
        try:
            expr = expr_.from_parsed(promql.parse(expr))
        except promql.PromQLError as exc:
            raise DashboardError(f"invalid panel query {expr!r}: {exc}") from exc
    text = expr_.line(expr)
    # The datasource variable on every target too, not only inherited from the panel:
    # a target copied into another panel or an Explore tab keeps reading the same source.
    q = prometheus.Dataquery().datasource(DATASOURCE).expr(text).legend_format(legend)
    if instant:
        q = q.instant()
    if table:
        q = q.format(pm.PromQueryFormat.TABLE)
    return q


def unit(spec_unit: str) -> tuple[str, float | None]:
    return UNITS.get(spec_unit, ("none", None))


def steps(base: str, *marks: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute threshold steps: `base` below the first mark, then each mark's color."""
    out = [dm.Threshold(value=None, color=base)]
    # Rounded: 1 - 0.001 is 0.9990000000000001, which would colour exactly 99.9% red.
    out += [dm.Threshold(value=round(v, 12), color=c) for v, c in sorted(marks)]
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(out)


def above(levels: Iterable[Level], scale: float = 1.0) -> db.ThresholdsConfig:
    """Alerts fire above each level: fine below the lowest, then each severity's color."""
    return steps(OK_COLOR, *((lv.value * scale, SEVERITY_COLORS[lv.severity]) for lv in levels))


def below(levels: Iterable[Level], scale: float = 1.0) -> db.ThresholdsConfig:
    """Alerts fire below each level: the strictest color at the bottom, fine above the top."""
    ordered = sorted(levels, key=lambda lv: lv.value)
    if not ordered:
        return steps(OK_COLOR)
    colors = [SEVERITY_COLORS[lv.severity] for lv in ordered[1:]] + [OK_COLOR]
    marks = [(lv.value * scale, c) for lv, c in zip(ordered, colors, strict=True)]
    return steps(SEVERITY_COLORS[ordered[0].severity], *marks)


def legend() -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
    )


def tooltip() -> cb.VizTooltipOptions:
    return cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)


def threshold_lines() -> cb.GraphThresholdsStyleConfig:
    return cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)


def datasource_variable() -> db.DatasourceVariable:
    return (
        db.DatasourceVariable(conventions.DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
    )


def dashboard_links() -> db.DashboardLink:
    """A dropdown of every promspec dashboard, found by tag, so new services appear."""
    return (
        db.DashboardLink("promspec dashboards")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([conventions.DASHBOARD_TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(False)
    )


def panel_id(key: str) -> int:
    """A panel's id from the stable name of what it shows (`slo/availability/burn-rate`):
    1 to 2^31-1, Grafana's int32. Never from position: a check added to a spec would
    renumber every later panel and rewrite the rules' dashboard_url links."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1


class PanelIdCollision(DashboardError):
    """Two panels of one dashboard whose names hash to the same id."""

    def __init__(self, key: str, other: str, pid: int) -> None:
        super().__init__(f"dashboard panels '{other}' and '{key}' would share id {pid}")
        self.key, self.other, self.pid = key, other, pid


@dataclass
class PanelIds:
    """The ids of one dashboard's panels by name, each id given once."""

    keys: dict[int, str] = field(default_factory=dict)

    def of(self, key: str) -> int:
        pid = panel_id(key)
        if pid in self.keys:  # Grafana would show one panel where two were meant
            raise PanelIdCollision(key, self.keys[pid], pid)
        self.keys[pid] = key
        return pid


# The SDK's encoder without indent: json then runs its C encoder (with `indent`, Python
# 3.11 falls back to the pure-Python one, which was a fifth of a run). The SDK's
# `default` still turns every SDK object into its to_json() dict.
_COMPACT = JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ": "))
_STRING = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")')
_CLOSE = {"{": "}", "[": "]"}
# Indented text of each piece of compact JSON between two strings, by indent level:
# the same few pieces (`: `, `,`, `},{`, ...) recur thousands of times.
_PIECES: list[dict[str, tuple[str, int]]] = [{}]


def _indent_piece(piece: str, level: int) -> tuple[str, int]:
    """What json's indent=2 writes for `piece` (no strings in it) at `level`; new level."""
    out = []
    i = 0
    while i < len(piece):
        c = piece[i]
        if c in _CLOSE and piece[i + 1 : i + 2] == _CLOSE[c]:
            out.append(piece[i : i + 2])  # empty: {} and [] stay as they are
            i += 2
            continue
        if c in _CLOSE:
            level += 1
            out.append(c + "\n" + "  " * level)
        elif c in "}]":
            level -= 1
            out.append("\n" + "  " * level + c)
        elif c == ",":
            out.append(",\n" + "  " * level)
        else:
            out.append(c)
        i += 1
    return "".join(out), level


def indent(compact: str) -> str:
    """json.dumps(..., indent=2) text from the same data's compact text (separators
    `,` and `: `): a newline and indent after each opening bracket and comma and before
    each closing one, outside strings (which never hold a raw newline)."""
    parts = _STRING.split(compact)  # even indexes between strings, odd ones strings
    level = 0
    for i in range(0, len(parts), 2):
        done = _PIECES[level].get(parts[i])
        if done is None:
            done = _PIECES[level][parts[i]] = _indent_piece(parts[i], level)
            while len(_PIECES) <= done[1]:
                _PIECES.append({})
        parts[i], level = done
    return "".join(parts)


def encode(dashboard: dm.Dashboard) -> str:
    """Sorted keys, two-space indent, trailing newline.

    The same bytes as the SDK's JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False),
    in a third of the time; that they are, and that every dashboard decodes back through
    the SDK's Dashboard.from_json to itself, is tests/test_dashboards.py's to prove, not
    every run's (the decode was a tenth of a cold generate)."""
    return indent(_COMPACT.encode(dashboard)) + "\n"
