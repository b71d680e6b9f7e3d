"""`promspec import sloth`: Sloth `prometheus/v1` specs (or its PrometheusServiceLevel
Kubernetes objects) to promspec specs.

Sloth facts used: `service`, `labels`, `slos[]` with `name`, `objective` (percent),
`description`, `sli.events{error_query,total_query}` (with a `{{.window}}` placeholder),
`sli.raw{error_ratio_query}`, `sli.plugin`, `alerting{name,labels,annotations,
page_alert,ticket_alert}` where an alert has `disable`. Sloth's period is a global flag,
30d unless changed.
"""

from __future__ import annotations

from typing import Any

from generator import imports
from generator.errors import Problem, SpecError
from generator.load import Document

WINDOW = r"\{\{\s*\.window\s*\}\}"
SLOTH_PERIOD = "30d"
SCHEMA = "import-sloth.schema.json"
TEAM_KEYS = ("team", "owner")
_RESERVED = ("service", "slo", "team", "severity", "burn_tier", "check")


def convert(docs: list[Document]) -> tuple[list[dict[str, Any]], list[Problem]]:
    errors: list[Problem] = []
    for doc in docs:  # every document first: a broken one imports nothing
        data, base = _unwrap(doc)
        if isinstance(data, dict) and "service" in data:
            errors += imports.malformed(doc, SCHEMA, data, base)
    if errors:
        raise SpecError(errors)
    specs: list[dict[str, Any]] = []
    notes: list[Problem] = []
    for doc in docs:
        spec = _document(doc, notes)
        if spec is not None:
            specs.append(spec)
    return specs, notes


def _unwrap(doc: Document) -> tuple[Any, tuple[str, ...]]:
    """The Sloth spec of a document, and where it is: a PrometheusServiceLevel holds it
    under spec."""
    if isinstance(doc.data, dict) and doc.data.get("kind") == "PrometheusServiceLevel":
        return doc.data.get("spec") or {}, ("spec",)
    return doc.data, ()


def _document(doc: Document, notes: list[Problem]) -> dict[str, Any] | None:
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
    for key in [k for k in labels if k in _RESERVED]:
        notes.append(
            imports.note(
                doc,
                (*base, "labels", key),
                f"label '{key}' is set by promspec itself; not carried over",
            )
        )
        del labels[key]
    if labels:
        spec["labels"] = labels
    slos = [
        slo
        for i, raw in enumerate(data.get("slos") or [])
        if (slo := _slo(doc, (*base, "slos", i), raw, notes)) is not None
    ]
    if not slos:
        notes.append(imports.note(doc, (*base, "slos"), "no SLO could be carried over"))
        return None
    spec["slos"] = slos
    return spec


def _slo(
    doc: Document, path: tuple[str | int, ...], raw: dict[str, Any], notes: list[Problem]
) -> dict[str, Any] | None:
    name = imports.name(str(raw.get("name", "")))
    if name != raw.get("name"):
        notes.append(imports.note(doc, (*path, "name"), f"renamed to '{name}'"))
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
    sides = {}
    for key in ("error_query", "total_query"):
        try:
            sides[key] = imports.reduce_counter_query(str(events.get(key, "")), WINDOW)
        except imports.NotCarried as exc:
            notes.append(
                imports.note(
                    doc,
                    (*path, "sli", "events", key),
                    f"SLO '{name}' skipped: {key} cannot become a selector: {exc}",
                )
            )
            return None
    if sides["error_query"].group_by != sides["total_query"].group_by:
        notes.append(
            imports.note(
                doc,
                (*path, "sli", "events"),
                f"SLO '{name}' skipped: error_query and total_query sum by different labels",
            )
        )
        return None
    slo: dict[str, Any] = {"name": name}
    if raw.get("description"):
        slo["description"] = str(raw["description"])
    slo["objective"] = imports.percent(float(raw["objective"]))
    slo["period"] = SLOTH_PERIOD
    if sides["total_query"].group_by:
        slo["group_by"] = list(sides["total_query"].group_by)
    slo["indicator"] = {
        "ratio": {
            "errors": sides["error_query"].selector,
            "total": sides["total_query"].selector,
        }
    }
    alerting = _alerting(doc, path, raw, notes)
    if alerting:
        slo["alerting"] = alerting
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


def _alerting(
    doc: Document, path: tuple[str | int, ...], raw: dict[str, Any], notes: list[Problem]
) -> dict[str, Any]:
    alerting = raw.get("alerting") or {}
    out: dict[str, Any] = {}
    for sloth_key, tiers in (
        ("page_alert", ("page_fast", "page_slow")),
        ("ticket_alert", ("ticket_fast", "ticket_slow")),
    ):
        alert = alerting.get(sloth_key) or {}
        if alert.get("disable"):
            out.update(dict.fromkeys(tiers, False))
        if alert.get("labels") or alert.get("annotations"):
            notes.append(
                imports.note(
                    doc,
                    (*path, "alerting", sloth_key),
                    "labels and "
                    "annotations of the alert are not carried over: promspec "
                    "sets severity critical (page) or warning (ticket); route "
                    "on those in Alertmanager",
                )
            )
    dropped = [k for k in ("name", "labels", "annotations") if alerting.get(k)]
    if dropped:
        notes.append(
            imports.note(
                doc,
                (*path, "alerting"),
                f"alerting {', '.join(dropped)} not "
                "carried over: promspec names alerts <Service><Slo>"
                "ErrorBudgetBurn and writes their summary and runbook link",
            )
        )
    return out
