"""Stage 3: turn schema-valid spec data plus defaults into the typed model.

Checks that need more than one field at a time live here: an objective from the tier,
a latency threshold that is a bucket boundary, windows that fit the period, PromQL that
parses, duplicate names.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

from generator.conventions import BASE_WINDOW_SECONDS, RESERVED_LABELS, SEVERITIES
from generator.errors import Problem, SpecError
from generator.promql import expr as nodes
from generator.promql import fragments as promql
from generator.spec.inherit import merge
from generator.spec.load import Document, Path_, format_path
from generator.spec.model import (
    SLO,
    Absence,
    AlertPolicy,
    BudgetAlert,
    BurnTier,
    Capacity,
    Exhaustion,
    Expiry,
    Freshness,
    GaugeIndicator,
    Indicator,
    LatencyIndicator,
    Level,
    NoDataAlert,
    Origin,
    RatioIndicator,
    Selector,
    Service,
    Severity,
    Threshold,
)
from generator.units import format_duration, format_number, parse_duration

TIER_KEYS = ("page_fast", "page_slow", "ticket_fast", "ticket_slow")
BUDGET_KEYS = ("budget_low", "budget_exhausted")


class _Invalid(Exception):
    """A problem already recorded; stop building this item."""


class Builder:
    """Builds one service document; collects every problem instead of stopping at one."""

    def __init__(self, doc: Document, defaults: dict[str, Any]) -> None:
        self.doc = doc
        self.defaults = defaults
        self.problems: list[Problem] = []

    # -- helpers ---------------------------------------------------------------------
    def origin(self, path: Path_) -> Origin:
        line, col = self.doc.where(path)
        return Origin(self.doc.file, line, col, format_path(path))

    def fail(self, path: Path_, message: str) -> _Invalid:
        self.problems.append(self.origin(path).problem(message))
        return _Invalid()

    def duration(self, value: str, path: Path_, *, positive: bool = True) -> float:
        seconds = parse_duration(value)  # the schema checked the pattern
        if positive and seconds <= 0:
            raise self.fail(path, f"duration '{value}' must be greater than 0; e.g. 5m or 30d")
        return seconds

    def expr(self, text: str, path: Path_) -> tuple[str, nodes.Expr]:
        """A PromQL fragment with the service matchers merged: its canonical text, and
        its tree as expression nodes for the rules (parsed here, once)."""
        try:
            tree, text = promql.canonical_tree(text, self.matchers)
            return text, nodes.printed_order(nodes.from_parsed(tree))
        except promql.PromQLTooComplex as exc:
            raise SpecError([self.origin(path).problem(str(exc))]) from exc
        except promql.PromQLError as exc:
            raise self.fail(path, f"{exc}; fix the expression") from exc

    def selector(self, text: str, path: Path_) -> Selector:
        try:
            metric, matchers = promql.plain_selector(text, self.matchers)
        except promql.PromQLTooComplex as exc:
            raise SpecError([self.origin(path).problem(str(exc))]) from exc
        except promql.PromQLError as exc:
            raise self.fail(path, str(exc)) from exc
        return Selector(metric, matchers)

    def labels(self, raw: dict[str, str], path: Path_) -> tuple[tuple[str, str], ...]:
        for key, value in raw.items():
            if key in RESERVED_LABELS:
                raise self.fail(
                    (*path, key), f"label '{key}' is set by promspec; choose another name"
                )
            reason = promql.validate_label_value(value)
            if reason:
                raise self.fail((*path, key), reason)
        return tuple(sorted(raw.items()))

    # -- service ---------------------------------------------------------------------
    def service(self) -> Service | None:
        data = cast(dict[str, Any], self.doc.data)
        d = self.defaults
        self.matchers: tuple[promql.Matcher, ...] = ()
        try:
            self.matchers = self._service_selector(data.get("selector"))
            team = data.get("team") or d.get("team")
            if not team:
                raise self.fail(
                    ("team",), "missing team; add 'team: <name>' here or in _defaults.yaml"
                )
            base = data.get("runbook_base_url") or d.get("runbook_base_url")
            if not base:
                raise self.fail(
                    ("runbook_base_url",),
                    "missing runbook_base_url; alerts must link a runbook: set it here or "
                    "in _defaults.yaml",
                )
            tier = data.get("tier", "")
            if tier and tier not in d["tiers"]:
                raise self.fail(
                    ("tier",),
                    f"unknown tier '{tier}'; known tiers: {', '.join(sorted(d['tiers']))}",
                )
            labels = self.labels(merge(d.get("labels", {}), data.get("labels", {})), ("labels",))
        except _Invalid:
            return None
        name = data["service"]
        self.name = name
        slos = self._items("slos", lambda raw, p: self._slo(raw, p, tier))
        thresholds = self._items("thresholds", self._threshold)
        capacity = self._items("capacity", self._capacity)
        freshness = self._items("freshness", self._freshness)
        expiry = self._items("expiry", self._expiry)
        absence = self._items("absence", self._absence)
        self._unique_names(data)
        if not any((slos, thresholds, capacity, freshness, expiry, absence)) and not self.problems:
            self.fail((), "the service defines nothing to monitor; add slos or thresholds")
        return Service(
            name=name,
            team=team,
            tier=tier,
            description=data.get("description", ""),
            runbook_base_url=base,
            labels=labels,
            selector=self.matchers,
            source=self.doc.file,
            origin=self.origin(("service",)),
            slos=tuple(slos),
            thresholds=tuple(thresholds),
            capacity=tuple(capacity),
            freshness=tuple(freshness),
            expiry=tuple(expiry),
            absence=tuple(absence),
            grafana_url=data.get("grafana_url") or d.get("grafana_url", ""),
            compat_sloth=bool(merge(d.get("compat", {}), data.get("compat", {})).get("sloth")),
        )

    def _service_selector(self, raw: Any) -> tuple[promql.Matcher, ...]:
        if raw is None:
            return ()
        if isinstance(raw, dict):
            return tuple(promql.Matcher(k, "=", v) for k, v in sorted(raw.items()))
        try:
            return promql.parse_matchers(raw)
        except promql.PromQLError as exc:
            raise self.fail(("selector",), str(exc)) from exc

    def _items(self, key: str, make: Any) -> list[Any]:
        out = []
        for i, raw in enumerate(self.doc.data.get(key, [])):
            try:
                out.append(make(raw, (key, i)))
            except _Invalid:
                continue
        return out

    def _unique_names(self, data: dict[str, Any]) -> None:
        """Names become alert and series names, so they are unique within the service."""
        seen: dict[str, str] = {}
        for key in ("slos", "thresholds", "capacity", "freshness", "expiry", "absence"):
            for i, raw in enumerate(data.get(key, [])):
                name = raw.get("name") if isinstance(raw, dict) else None
                if not name:
                    continue
                where = f"{key}[{i}]"
                if name in seen:
                    self.fail(
                        (key, i, "name"),
                        f"duplicate name '{name}' (also {seen[name]}); names must be unique "
                        "within a service",
                    )
                else:
                    seen[name] = where

    # -- SLOs ------------------------------------------------------------------------
    def _slo(self, raw: dict[str, Any], path: Path_, tier: str) -> SLO:
        d = self.defaults["slo"]
        objective = raw.get("objective")
        if objective is None:
            if not tier:
                raise self.fail(
                    (*path, "name"),
                    "missing objective; set objective (e.g. 99.9) or a service tier",
                )
            objective = self.defaults["tiers"][tier]
        period_text = raw.get("period", d["period"])
        period = self.duration(period_text, (*path, "period"))
        indicator = self._indicator(raw["indicator"], (*path, "indicator"))
        policy = merge(d["alerting"], raw.get("alerting", {}))
        alerting = self._policy(policy, (*path, "alerting"), period, indicator.kind)
        for i, label in enumerate(raw.get("group_by", [])):
            if label in RESERVED_LABELS:
                raise self.fail(
                    (*path, "group_by", i),
                    f"label '{label}' is set by promspec; group by another label",
                )
        return SLO(
            name=raw["name"],
            description=raw.get("description", ""),
            objective=float(objective),
            period=period,
            group_by=tuple(raw.get("group_by", [])),
            indicator=indicator,
            alerting=alerting,
            origin=self.origin((*path, "name")),
        )

    def _indicator(self, raw: dict[str, Any], path: Path_) -> Indicator:
        if "ratio" in raw:
            r, p = raw["ratio"], (*path, "ratio")
            return RatioIndicator(
                total=self.selector(r["total"], (*p, "total")),
                errors=self.selector(r["errors"], (*p, "errors")) if "errors" in r else None,
                good=self.selector(r["good"], (*p, "good")) if "good" in r else None,
            )
        if "latency" in raw:
            r, p = raw["latency"], (*path, "latency")
            hist = self.selector(r["histogram"], (*p, "histogram"))
            for suffix in ("_bucket", "_count", "_sum"):
                if hist.metric.endswith(suffix):
                    raise self.fail(
                        (*p, "histogram"),
                        f"give the histogram's base name without '{suffix}' "
                        f"(e.g. {hist.metric.removesuffix(suffix)})",
                    )
            threshold = self._level_value(r["threshold"], (*p, "threshold"))
            buckets = tuple(sorted(float(b) for b in r["buckets"]))
            if not any(abs(b - threshold) <= 1e-9 * max(1.0, b) for b in buckets):
                shown = ", ".join(format_number(b) for b in buckets)
                raise self.fail(
                    (*p, "threshold"),
                    f"threshold {format_number(threshold)}s is not a bucket boundary "
                    f"(buckets: {shown}); pick one of them or add that bucket to the histogram",
                )
            return LatencyIndicator(hist, threshold, buckets)
        return GaugeIndicator(self.selector(raw["gauge"]["metric"], (*path, "gauge", "metric")))

    def _policy(self, raw: dict[str, Any], path: Path_, period: float, kind: str) -> AlertPolicy:
        tiers = []
        for key in TIER_KEYS:
            t = raw[key]
            if not t.get("enabled", True):
                continue
            p = (*path, key)
            long = self.duration(t["long_window"], (*p, "long_window"))
            short = (
                self.duration(t["short_window"], (*p, "short_window"))
                if "short_window" in t
                else long / 12
            )
            if short < BASE_WINDOW_SECONDS:
                raise self.fail(
                    p,
                    f"short window {format_duration(short)} is below the 5m base rate window; "
                    "use a long window of at least 1h or set short_window to 5m or more",
                )
            if short >= long:
                raise self.fail(
                    (*p, "short_window"),
                    f"short window {format_duration(short)} must be shorter than the long "
                    f"window {format_duration(long)}; remove short_window (default: long / 12) "
                    "or shorten it",
                )
            if long > period:
                raise self.fail(
                    (*p, "long_window"),
                    f"long window {format_duration(long)} is longer than the SLO period "
                    f"{format_duration(period)}; lengthen the period or disable {key}",
                )
            tiers.append(
                BurnTier(
                    key=key,
                    budget_percent=float(t["budget_percent"]),
                    long_window=long,
                    short_window=short,
                    severity=t["severity"],
                    for_=self.duration(t["for"], (*p, "for"), positive=False),
                    origin=self.origin(p),
                    min_failed_events=t.get("min_failed_events"),
                )
            )
        budget_alerts = []
        for key in BUDGET_KEYS:
            b = raw[key]
            if not b.get("enabled", True):
                continue
            p = (*path, key)
            budget_alerts.append(
                BudgetAlert(
                    key=key,
                    consumed_percent=float(b["consumed_percent"]),
                    severity=b["severity"],
                    for_=self.duration(b["for"], (*p, "for"), positive=False),
                    origin=self.origin(p),
                )
            )
        nd = raw.get("no_data")
        no_data = None
        if nd:
            no_data = NoDataAlert(
                for_=self.duration(nd.get("for", "15m"), (*path, "no_data", "for")),
                severity=nd.get("severity", "warning"),
            )
        ts = raw.get("traffic_stopped")
        stopped = None
        if ts:
            if kind == "gauge":
                raise self.fail(
                    (*path, "traffic_stopped"),
                    "traffic_stopped needs events (a ratio or latency SLI); a gauge SLI "
                    "counts samples, which stop only with the data: use no_data, or remove "
                    "traffic_stopped",
                )
            stopped = NoDataAlert(
                for_=self.duration(ts.get("for", "10m"), (*path, "traffic_stopped", "for")),
                severity=ts.get("severity", "warning"),
            )
        return AlertPolicy(
            tuple(tiers), tuple(budget_alerts), int(raw["min_traffic"]), no_data, stopped
        )

    # -- checks ----------------------------------------------------------------------
    def _common(self, raw: dict[str, Any], path: Path_, for_default: str) -> dict[str, Any]:
        return {
            "name": raw["name"],
            "description": raw.get("description", ""),
            "for_": self.duration(raw.get("for", for_default), (*path, "for"), positive=False),
            "runbook_url": raw.get("runbook_url", ""),
            "labels": self.labels(raw.get("labels", {}), (*path, "labels")),
            "origin": self.origin((*path, "name")),
        }

    def _level_value(self, value: float | str, path: Path_) -> float:
        if isinstance(value, str):
            return self.duration(value, path, positive=False)
        return float(value)

    def _levels(
        self,
        raw: dict[str, Any],
        path: Path_,
        convert: Any,
        descending: bool,
        hint: str = "",
        own: dict[str, Any] | None = None,
        source: str = "the defaults",
    ) -> tuple[Level, ...]:
        """info/warning/critical levels, which must get stricter with severity.

        Levels merge with inherited ones key by key; `false` drops an inherited level.
        `own` holds the levels the spec itself sets (all of `raw` when None); the others
        came from `source`, which the error names, since the user never wrote them."""
        levels = [
            Level(cast(Severity, s), convert(raw[s], (*path, s)))
            for s in reversed(SEVERITIES)
            if raw.get(s, False) is not False
        ]
        if not levels:
            raise self.fail(path, "set at least one of warning or critical (or info)")
        own = raw if own is None else own
        for weaker, stronger in itertools.pairwise(levels):
            wrong = stronger.value >= weaker.value if descending else stronger.value <= weaker.value
            if not wrong:
                continue
            relation = "below" if descending else "above"
            weak, strong = weaker.severity, stronger.severity
            problem = (
                f"{strong} level {_as_written(raw[strong])} must be {relation} "
                f"the {weak} level {_as_written(raw[weak])}"
            )
            at = strong
            inherited = [s for s in (weak, strong) if s not in own]
            if inherited:
                other = inherited[0]
                at = weak if other == strong else strong  # the level the spec wrote
                fix = f"; the {other} level comes from {source}: set {other}"
                fix += f" ({other}: false drops it)"
            elif stronger.value == weaker.value:
                fix = f"; make {strong} stricter than {weak}{hint}"
            else:
                fix = f"; swap them{hint}"
            raise self.fail((*path, at), problem + fix)
        return tuple(levels)

    def _threshold(self, raw: dict[str, Any], path: Path_) -> Threshold:
        own, source = raw, "the defaults"
        if "use" in raw:
            preset = self.defaults["presets"].get(raw["use"])
            if preset is None:
                known = ", ".join(sorted(self.defaults["presets"])) or "none defined"
                raise self.fail((*path, "use"), f"unknown preset '{raw['use']}' (presets: {known})")
            source = f"preset '{raw['use']}'"
            raw = merge(preset, raw)
        if ("expr" in raw) == ("quantile" in raw):
            raise self.fail(path, "a threshold needs exactly one of expr or quantile")
        unit = raw.get("unit", "seconds" if "quantile" in raw else "none")
        if "quantile" in raw:
            q = raw["quantile"]
            hist = self.selector(q["histogram"], (*path, "quantile", "histogram"))
            by = ",".join(["le", *q.get("by", [])])
            window = q.get("window", "5m")
            self.duration(window, (*path, "quantile", "window"))
            text = (
                f"histogram_quantile({format_number(q['quantile'])}, "
                f"sum by ({by}) (rate({hist.text('_bucket')}[{window}])))"
            )
            expr, tree = self.expr(text, (*path, "quantile"))
        else:
            expr, tree = self.expr(raw["expr"], (*path, "expr"))
        direction = raw.get("direction", "above")
        hint = ", or set direction: below if low values are bad" if direction == "above" else ""
        levels = self._levels(
            raw,
            path,
            self._level_value,
            descending=direction == "below",
            hint=hint,
            own=own,
            source=source,
        )
        return Threshold(
            **self._common(raw, path, self.defaults["threshold"]["for"]),
            expr=expr,
            expr_tree=tree,
            direction=direction,
            levels=levels,
            unit=unit,
        )

    def _capacity(self, raw: dict[str, Any], path: Path_) -> Capacity:
        d = self.defaults["capacity"]
        usage, usage_tree = self.expr(raw["usage"], (*path, "usage"))
        limit_raw = raw["limit"]
        limit_tree: nodes.Expr
        if isinstance(limit_raw, int | float):
            limit, limit_tree = format_number(float(limit_raw)), nodes.Number(float(limit_raw))
        else:
            limit, limit_tree = self.expr(limit_raw, (*path, "limit"))
        common = self._common(raw, path, d["for"])
        headroom = self._headroom(raw, (*path, "headroom"))
        exhaustion = self._exhaustion(raw.get("exhaustion"), (*path, "exhaustion"))
        if not headroom and not exhaustion:
            at = (*path, "headroom") if "headroom" in raw else (*path, "name")
            what = "headroom is false" if raw.get("headroom") is False else "no headroom floor"
            raise self.fail(
                at,
                f"the check has no level at all ({what} and no exhaustion); set headroom "
                "floors (e.g. headroom: {warning: 30}) or exhaustion (e.g. exhaustion: "
                "{within: 4h})",
            )
        return Capacity(
            **common,
            usage=usage,
            limit=limit,
            usage_tree=usage_tree,
            limit_tree=limit_tree,
            headroom=headroom,
            unit=raw.get("unit", "none"),
            exhaustion=exhaustion,
        )

    def _headroom(self, raw: dict[str, Any], path: Path_) -> tuple[Level, ...]:
        """Headroom floors: a percentage, or {percent, for} with the level's own `for`;
        `headroom: false` (or every floor false) leaves only the exhaustion levels."""
        own = raw.get("headroom", {})
        if own is False:
            return ()
        merged = merge(self.defaults["capacity"]["headroom"], own)
        percents = {s: _percent(v) for s, v in merged.items()}
        if all(percents.get(s, False) is False for s in SEVERITIES):
            return ()
        levels = self._levels(percents, path, lambda v, p: float(v), descending=True, own=own)
        out = []
        for level in levels:
            spec = merged[level.severity]
            for_: float | None = None
            labels: tuple[tuple[str, str], ...] = ()
            if isinstance(spec, dict):
                where = (*path, level.severity)
                if "for" in spec:
                    for_ = self.duration(spec["for"], (*where, "for"), positive=False)
                labels = self.labels(spec.get("labels", {}), (*where, "labels"))
            out.append(Level(level.severity, level.value, for_, labels))
        return tuple(out)

    def _exhaustion(self, raw: Any, path: Path_) -> tuple[Exhaustion, ...]:
        """One exhaustion level (a mapping) or several (a list), each its own severity,
        `within` and `for`; a stricter severity needs a shorter `within`."""
        if not raw:
            return ()
        many = isinstance(raw, list)
        items = [(i, (*path, i)) for i in range(len(raw))] if many else [(None, path)]
        levels: list[tuple[Exhaustion, dict[str, Any], Path_]] = []
        for i, p in items:
            own = raw[i] if i is not None else raw
            ex = merge(self.defaults["capacity"]["exhaustion"], own)
            level = Exhaustion(
                within=self.duration(ex["within"], (*p, "within")),
                lookback=self.duration(ex["lookback"], (*p, "lookback")),
                severity=ex["severity"],
                for_=self.duration(ex["for"], (*p, "for"), positive=False),
                labels=self.labels(ex.get("labels", {}), (*p, "labels")),
            )
            levels.append((level, own, p))
        for j, (level, own, p) in enumerate(levels):
            for other, _, q in levels[:j]:
                also = format_path(q[-2:])
                if other.severity == level.severity:
                    default = "" if "severity" in own else ", the default"
                    raise self.fail(
                        (*p, "severity") if "severity" in own else p,
                        f"severity {level.severity}{default}, is also that of {also}; give "
                        "each level its own severity (critical, warning or info): one alert "
                        "per severity",
                    )
                if other.within == level.within:
                    raise self.fail(
                        (*p, "within"),
                        f"within {own['within']} is also the within of {also}; give each "
                        "level its own within (a shorter one for the stricter severity)",
                    )
        rank = {s: k for k, s in enumerate(SEVERITIES)}  # critical first
        ordered = sorted(levels, key=lambda t: rank[t[0].severity], reverse=True)
        for (weaker, wown, _), (stronger, sown, p) in itertools.pairwise(ordered):
            if stronger.within < weaker.within:
                continue
            raise self.fail(
                (*p, "within"),
                f"the {stronger.severity} level's within {sown['within']} must be shorter "
                f"than the {weaker.severity} level's within {wown['within']} (the sooner "
                "the limit, the more urgent); swap them",
            )
        return tuple(level for level, _, _ in ordered)

    def _freshness(self, raw: dict[str, Any], path: Path_) -> Freshness:
        merged = merge(self.defaults["freshness"], raw)
        common = self._common(merged, path, "0s")
        timestamp, tree = self.expr(raw["timestamp"], (*path, "timestamp"))
        return Freshness(
            **common,
            timestamp=timestamp,
            timestamp_tree=tree,
            levels=self._levels(merged, path, self.duration, descending=False, own=raw),
        )

    def _expiry(self, raw: dict[str, Any], path: Path_) -> Expiry:
        merged = merge(self.defaults["expiry"], raw)
        common = self._common(merged, path, "0s")
        timestamp, tree = self.expr(raw["timestamp"], (*path, "timestamp"))
        return Expiry(
            **common,
            timestamp=timestamp,
            timestamp_tree=tree,
            levels=self._levels(merged, path, self.duration, descending=True, own=raw),
        )

    def _absence(self, raw: dict[str, Any], path: Path_) -> Absence:
        d = self.defaults["absence"]
        key = "target" if "target" in raw else "metric"
        selector = self.selector(raw[key], (*path, key))
        if key == "target" and selector.metric != "up":
            raise self.fail(
                (*path, key), "a target check selects the 'up' series, e.g. up{job=\"api\"}"
            )
        return Absence(
            **self._common(merge(d, raw), path, d["for"]),
            selector=selector.text(),
            series=nodes.Selector(selector.metric, selector.matchers),
            target=key == "target",
            severity=raw.get("severity", d["severity"]),
        )


def _percent(level: Any) -> Any:
    """A headroom level's percentage (False when dropped), written plain or as a mapping."""
    if isinstance(level, dict):  # {percent, for}; merge marks a dropped mapping disabled
        return False if level.get("enabled") is False else level["percent"]
    return level


def _as_written(level: Any) -> str:
    """A level as the spec writes it: 30d and 500ms stay so, numbers print as PromQL does."""
    return level if isinstance(level, str) else format_number(float(level))
