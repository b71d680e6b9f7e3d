"""`promspec import sloth`: Sloth `prometheus/v1` specs, its PrometheusServiceLevel
Kubernetes objects and its AlertWindows to promspec specs.

Sloth facts used: `service`, `labels`, `slos[]` with `name`, `objective` (percent),
`description`, `labels`, `sli.events{error_query,total_query}` (with a `{{.window}}`
placeholder), `sli.raw{error_ratio_query}`, `sli.plugin`, `plugins` and a spec's
`slo_plugins` (chains of `{id, config, priority}`), `interval`, and `alerting{name,
labels, annotations, page_alert, ticket_alert}` where an alert has `disable`, `for`,
`labels` and `annotations`. The Kubernetes objects write the same keys in camelCase
(`errorQuery`, `pageAlert`, `sloPlugins`, ...); both spellings are read everywhere.
Sloth's period is a global flag, 30d unless an AlertWindows file (`spec.sloPeriod`,
`spec.page|ticket.quick|slow{errorBudgetPercent, shortWindow, longWindow}`) sets another
catalogue. Sloth's alerts fire without `for` (unless set), one page alert ORing the
quick and slow page windows, one ticket alert likewise, and label `sloth_severity`.
"""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.errors import Problem, SpecError
from generator.importers import common as imports
from generator.spec.inherit import BUILTIN
from generator.spec.load import Document
from generator.units import format_duration, parse_duration

WINDOW = r"\{\{\s*\.window\s*\}\}"
SLOTH_PERIOD = "30d"
SCHEMA = "import-sloth.schema.json"
TEAM_KEYS = ("team", "owner")
_RESERVED = tuple(sorted(conventions.RESERVED_LABELS))
# Sloth's camelCase spelling (Kubernetes objects) of the snake_case keys read here.
_CAMEL = {
    "error_query": "errorQuery",
    "total_query": "totalQuery",
    "error_ratio_query": "errorRatioQuery",
    "page_alert": "pageAlert",
    "ticket_alert": "ticketAlert",
    "slo_plugins": "sloPlugins",
}
# Sloth's alert and AlertWindows entry -> promspec's burn tiers.
_ALERTS = (
    ("page_alert", ("page_fast", "page_slow")),
    ("ticket_alert", ("ticket_fast", "ticket_slow")),
)
_WINDOWS = (
    ("page", "quick", "page_fast"),
    ("page", "slow", "page_slow"),
    ("ticket", "quick", "ticket_fast"),
    ("ticket", "slow", "ticket_slow"),
)
_EXTRA_ALERTS = ("budget_low", "budget_exhausted", "no_data")


def key(mapping: Any, snake: str) -> str:
    """The key `mapping` spells `snake` with: as is, or Sloth's camelCase."""
    camel = _CAMEL.get(snake, snake)
    if isinstance(mapping, dict) and snake not in mapping and camel in mapping:
        return camel
    return snake


def get(mapping: Any, snake: str) -> Any:
    return mapping.get(key(mapping, snake)) if isinstance(mapping, dict) else None


def convert(
    docs: list[Document], windows: list[Document] | None = None
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The promspec specs of `docs` (Sloth specs, PrometheusServiceLevels, AlertWindows),
    with AlertWindows from `windows` too, and a note for every difference."""
    errors: list[Problem] = []
    for doc in docs:  # every document first: a broken one imports nothing
        data, base = _unwrap(doc)
        if isinstance(data, dict) and "service" in data:
            errors += imports.malformed(doc, SCHEMA, data, base)
        elif _is_windows(doc):
            errors += imports.malformed(doc, SCHEMA, doc.data, definition="AlertWindows")
    for doc in windows or []:
        if _is_windows(doc):
            errors += imports.malformed(doc, SCHEMA, doc.data, definition="AlertWindows")
    if errors:
        raise SpecError(errors)
    notes: list[Problem] = []
    catalogue = [d for d in [*(windows or []), *docs] if _is_windows(d)]
    for doc in windows or []:
        if not _is_windows(doc):
            notes.append(imports.note(doc, ("kind",), "not a Sloth AlertWindows; skipped"))
    period, tiers = SLOTH_PERIOD, None
    if catalogue:
        chosen = _choose_windows(catalogue, notes)
        converted = _alert_windows(chosen, notes)
        if converted is None:
            return [], notes
        period, tiers = converted
    specs: list[dict[str, Any]] = []
    if docs and all(_is_windows(doc) for doc in docs):
        notes.append(
            imports.note(
                docs[0],
                ("kind",),
                "only AlertWindows here: import the Sloth specs with --windows and this file",
            )
        )
    for doc in docs:
        if _is_windows(doc):
            continue
        spec = _document(doc, period, tiers, notes)
        if spec is not None:
            specs.append(spec)
    return specs, notes


def _is_windows(doc: Document) -> bool:
    return isinstance(doc.data, dict) and doc.data.get("kind") == "AlertWindows"


def _unwrap(doc: Document) -> tuple[Any, tuple[str, ...]]:
    """The Sloth spec of a document, and where it is: a PrometheusServiceLevel holds it
    under spec."""
    if isinstance(doc.data, dict) and doc.data.get("kind") == "PrometheusServiceLevel":
        return doc.data.get("spec") or {}, ("spec",)
    return doc.data, ()


# -- AlertWindows -----------------------------------------------------------------------


def _choose_windows(catalogue: list[Document], notes: list[Problem]) -> Document:
    """Sloth picks the windows whose sloPeriod is its period: one catalogue sets the
    period; of several, the 30d one (Sloth's default period) or else the first."""
    if len(catalogue) == 1:
        return catalogue[0]
    chosen = next(
        (d for d in catalogue if (d.data.get("spec") or {}).get("sloPeriod") == SLOTH_PERIOD),
        catalogue[0],
    )
    for doc in catalogue:
        if doc is not chosen:
            notes.append(
                imports.note(
                    doc,
                    ("spec", "sloPeriod"),
                    "these windows are not used: promspec imports one period per run "
                    f"({(chosen.data.get('spec') or {}).get('sloPeriod')}); import the specs "
                    "of this period with --windows on this file alone",
                )
            )
    return chosen


def _alert_windows(
    doc: Document, notes: list[Problem]
) -> tuple[str, dict[str, dict[str, Any]]] | None:
    """An AlertWindows document as a period and promspec burn tiers, or None (noted)."""
    spec = doc.data.get("spec") or {}
    period_text = str(spec.get("sloPeriod") or "")
    try:
        period = parse_duration(period_text)
    except ValueError:
        period = 0
    if period <= 0:
        notes.append(
            imports.note(
                doc,
                ("spec", "sloPeriod"),
                f"sloPeriod {period_text!r} is not a duration such as 30d; nothing imported",
            )
        )
        return None
    tiers: dict[str, dict[str, Any]] = {}
    for severity, speed, tier in _WINDOWS:
        path: tuple[str | int, ...] = ("spec", severity, speed)
        raw = (spec.get(severity) or {}).get(speed)
        if not isinstance(raw, dict):
            notes.append(
                imports.note(doc, path, f"missing {severity}.{speed} windows; nothing imported")
            )
            return None
        why = _window_problem(raw, period)
        if why:
            notes.append(
                imports.note(
                    doc,
                    path,
                    f"{severity}.{speed} cannot be carried over: {why}; nothing imported "
                    "(the SLOs would alert on other windows than Sloth's)",
                )
            )
            return None
        tiers[tier] = {
            "budget_percent": imports.percent(float(raw["errorBudgetPercent"])),
            "long_window": format_duration(parse_duration(raw["longWindow"])),
            "short_window": format_duration(parse_duration(raw["shortWindow"])),
        }
    return format_duration(period), tiers


def _window_problem(raw: dict[str, Any], period: float) -> str:
    short, long = parse_duration(raw["shortWindow"]), parse_duration(raw["longWindow"])
    if short < conventions.BASE_WINDOW_SECONDS:
        return (
            f"shortWindow {raw['shortWindow']} is below promspec's 5m base window "
            "(raw series are read over 5m); use 5m or more"
        )
    if short >= long:
        return (
            f"shortWindow {raw['shortWindow']} is not shorter than longWindow {raw['longWindow']}"
        )
    if long > period:
        return f"longWindow {raw['longWindow']} is longer than the period"
    return ""


# -- specs ------------------------------------------------------------------------------


def _document(
    doc: Document, period: str, tiers: dict[str, dict[str, Any]] | None, notes: list[Problem]
) -> dict[str, Any] | None:
    data, base = _unwrap(doc)
    if not isinstance(data, dict) or "service" not in data:
        notes.append(imports.note(doc, base, "not a Sloth spec (no 'service'); skipped"))
        return None
    version = data.get("version")
    if base == () and version != "prometheus/v1":
        notes.append(
            imports.note(
                doc,
                ("version",),
                f"version {version!r} is not prometheus/v1; read as prometheus/v1",
            )
        )
    service = imports.name(str(data["service"]))
    if service != data["service"]:
        notes.append(
            imports.note(
                doc,
                (*base, "service"),
                f"renamed to '{service}' (promspec names are lower case, digits, '-' and '_')",
            )
        )
    spec: dict[str, Any] = {"version": "promspec/v1", "service": service}
    labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
    team_key = next((k for k in TEAM_KEYS if imports.NAME.match(labels.get(k, ""))), None)
    if team_key:
        spec["team"] = labels.pop(team_key) if team_key == "team" else labels[team_key]
    else:
        notes.append(
            imports.note(
                doc,
                (*base, "labels"),
                "no team or owner label: set team (it routes the alerts) here or in _defaults.yaml",
            )
        )
    for name in [k for k in labels if k in _RESERVED or k.startswith("sloth_")]:
        notes.append(
            imports.note(
                doc,
                (*base, "labels", name),
                f"label '{name}' is set by promspec itself; not carried over",
            )
        )
        del labels[name]
    if labels:
        spec["labels"] = labels
    # A migrating team keeps its dashboards: Sloth's series, recorded from promspec's.
    spec["compat"] = {"sloth": True}
    _plugins(doc, (*base, key(data, "slo_plugins")), data.get(key(data, "slo_plugins")), notes)
    slos_path = (*base, "slos")
    slos = [
        slo
        for i, raw in enumerate(data.get("slos") or [])
        if (slo := _slo(doc, (*slos_path, i), raw, service, period, tiers, notes)) is not None
    ]
    if not slos:
        notes.append(imports.note(doc, slos_path, "no SLO could be carried over"))
        return None
    spec["slos"] = slos
    notes.append(
        imports.note(
            doc,
            slos_path,
            f"the {period} SLI (error budget remaining) counts the period's events; Sloth "
            "averages its 5m ratios, which differs when traffic is uneven",
        )
    )
    extra = sorted(
        {
            _ALERT_NAMES[k]
            for slo in slos
            for k in _EXTRA_ALERTS
            if (slo.get("alerting") or {}).get(k) is not False
        }
    )
    if extra:
        notes.append(
            imports.note(
                doc,
                slos_path,
                f"promspec adds alerts Sloth has not: {', '.join(extra)} per SLO; set "
                "alerting.budget_low, budget_exhausted or no_data to false to drop them",
            )
        )
    return spec


_ALERT_NAMES = {
    "budget_low": "ErrorBudgetLow",
    "budget_exhausted": "ErrorBudgetExhausted",
    "no_data": "SLINoData",
}


def _plugins(doc: Document, path: tuple[str | int, ...], chain: Any, notes: list[Problem]) -> None:
    """A plugin chain has no promspec equivalent: one note naming each plugin."""
    entries = (chain or {}).get("chain") if isinstance(chain, dict) else None
    if not entries:
        return
    ids = [str(e.get("id")) if isinstance(e, dict) else str(e) for e in entries]
    notes.append(
        imports.note(
            doc,
            path,
            f"plugins not carried over ({', '.join(ids)}): promspec has no plugins; "
            "what they change in the rules is not reproduced",
        )
    )


def _slo(
    doc: Document,
    path: tuple[str | int, ...],
    raw: dict[str, Any],
    service: str,
    period: str,
    tiers: dict[str, dict[str, Any]] | None,
    notes: list[Problem],
) -> dict[str, Any] | None:
    name = imports.name(str(raw.get("name", "")))
    if name != raw.get("name"):
        notes.append(imports.note(doc, (*path, "name"), f"renamed to '{name}'"))
    indicator = _indicator(doc, path, raw, name, notes)
    if indicator is None:
        return None
    group_by, ind = indicator
    slo: dict[str, Any] = {"name": name}
    if raw.get("description"):
        slo["description"] = str(raw["description"])
    slo["objective"] = imports.percent(float(raw["objective"]))
    slo["period"] = period
    if group_by:
        slo["group_by"] = list(group_by)
    slo["indicator"] = ind
    alerting = _alerting(doc, path, raw, service, name, tiers, notes)
    if alerting:
        slo["alerting"] = alerting
    _plugins(doc, (*path, "plugins"), raw.get("plugins"), notes)
    if raw.get("interval"):
        notes.append(
            imports.note(
                doc,
                (*path, "interval"),
                "rule group intervals are not carried over: promspec evaluates windows up "
                "to 6h every 30s and longer ones every 5m",
            )
        )
    if raw.get("labels"):
        notes.append(
            imports.note(
                doc,
                (*path, "labels"),
                "SLO labels are not carried over: "
                "promspec labels series by service and slo; put routing "
                "labels in the service's labels",
            )
        )
    return slo


def _indicator(
    doc: Document, path: tuple[str | int, ...], raw: dict[str, Any], name: str, notes: list[Problem]
) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    sli = raw.get("sli") or {}
    if "events" not in sli:
        kind = "raw error_ratio_query" if "raw" in sli else "plugin" if "plugin" in sli else "SLI"
        notes.append(
            imports.note(
                doc,
                (*path, "sli"),
                f"SLO '{name}' skipped: a {kind} cannot "
                "be carried over; promspec needs the error and total counters "
                "(indicator.ratio errors/total) to sum long windows from "
                "recorded rates; write them by hand",
            )
        )
        return None
    events = sli["events"]
    where = (*path, "sli", "events")
    texts = {k: get(events, k) for k in ("error_query", "total_query")}
    for k, text in texts.items():
        if not isinstance(text, str):
            notes.append(imports.note(doc, where, f"SLO '{name}' skipped: no {key(events, k)}"))
            return None
    sides = {}
    for k, text in texts.items():
        try:
            sides[k] = imports.reduce_counter_query(text, WINDOW)
        except imports.NotCarried as exc:
            if k == "error_query":
                latency = _latency(texts["error_query"], texts["total_query"], str(exc))
                if isinstance(latency, imports.Latency):
                    le = imports.percent(latency.threshold)
                    notes.append(
                        imports.note(
                            doc,
                            (*where, key(events, k)),
                            f"SLO '{name}' becomes indicator.latency (events slower than "
                            f"{le}s are bad); its buckets list only {le}: add the histogram's "
                            "other boundaries for the dashboards' percentiles",
                        )
                    )
                    return latency.group_by, {
                        "latency": {
                            "histogram": latency.histogram,
                            "threshold": imports.percent(latency.threshold),
                            "buckets": [imports.percent(latency.threshold)],
                        }
                    }
                exc = imports.NotCarried(latency)
            notes.append(
                imports.note(
                    doc,
                    (*where, key(events, k)),
                    f"SLO '{name}' skipped: {key(events, k)} cannot become a selector: {exc}",
                )
            )
            return None
    if sides["error_query"].group_by != sides["total_query"].group_by:
        notes.append(
            imports.note(
                doc,
                where,
                f"SLO '{name}' skipped: the error and total queries sum by different labels",
            )
        )
        return None
    return sides["total_query"].group_by, {
        "ratio": {
            "errors": sides["error_query"].selector,
            "total": sides["total_query"].selector,
        }
    }


def _latency(errors: str, total: str, counter_problem: str) -> imports.Latency | str:
    """The latency indicator of `count - bucket` over `count`, or why it is not one."""
    try:
        return imports.reduce_latency_query(errors, total, WINDOW)
    except imports.NotCarried as exc:
        if "neither" in str(exc):
            return counter_problem
        return f"a latency SLI, but {exc}"


def _alerting(
    doc: Document,
    path: tuple[str | int, ...],
    raw: dict[str, Any],
    service: str,
    slo: str,
    tiers: dict[str, dict[str, Any]] | None,
    notes: list[Problem],
) -> dict[str, Any]:
    alerting = raw.get("alerting") or {}
    apath = (*path, "alerting")
    out: dict[str, Any] = {tier: dict(values) for tier, values in (tiers or {}).items()}
    waiting: list[str] = []
    enabled = False
    for sloth_key, pair in _ALERTS:
        alert = get(alerting, sloth_key) or {}
        at = (*apath, key(alerting, sloth_key))
        if alert.get("disable"):
            out.update(dict.fromkeys(pair, False))
            continue
        enabled = True
        if alert.get("for"):
            for tier in pair:
                out.setdefault(tier, {})["for"] = str(alert["for"])
        else:
            waiting += pair
        if alert.get("labels") or alert.get("annotations"):
            notes.append(
                imports.note(
                    doc,
                    at,
                    "labels and "
                    "annotations of the alert are not carried over: promspec "
                    "sets severity critical (page) or warning (ticket); route "
                    "on those in Alertmanager",
                )
            )
    if enabled:
        named = f" {alerting['name']}" if alerting.get("name") else ""
        ours = conventions.slo_alert(service, slo, "ErrorBudgetBurn")
        notes.append(
            imports.note(
                doc,
                (*apath, "name") if alerting.get("name") else path,
                f"Sloth's page and ticket alerts{named} become {ours}: "
                "one alert per burn tier (label burn_tier) instead of Sloth's page and ticket "
                "alerts, severity critical or warning instead of label sloth_severity",
            )
        )
    builtin = BUILTIN["slo"]["alerting"]
    # Only a tier that waits makes a difference (none does by default since issue 21).
    waiting = [t for t in waiting if parse_duration(str(builtin[t]["for"])) > 0]
    if waiting:
        fors = ", ".join(f"{t} {builtin[t]['for']}" for t in waiting)
        notes.append(
            imports.note(
                doc,
                apath if alerting else path,
                f"promspec waits before firing (built-in for: {fors}); Sloth fires at once: "
                "set for: 0s on those tiers to keep Sloth's timing",
            )
        )
    dropped = [k for k in ("labels", "annotations") if alerting.get(k)]
    if dropped:
        notes.append(
            imports.note(
                doc,
                apath,
                f"alerting {' and '.join(dropped)} not "
                "carried over: promspec writes each alert's summary, description and "
                "runbook link, and labels it service, slo, team, severity, burn_tier",
            )
        )
    return {tier: out[tier] for tier in conventions.BURN_TIERS if tier in out}
