"""`promspec import openslo`: OpenSLO v1 SLO (and SLI, Service) documents to promspec
specs, one per service.

OpenSLO facts used: `apiVersion: openslo/v1`; `kind: SLO` with `metadata.name`,
`spec.service`, `spec.indicator` (an inline SLI) or `spec.indicatorRef` (an SLI document's
name), `spec.objectives[].target` (a ratio, 0.999) or `targetPercent`, `spec.timeWindow[]`
with `duration` and `isRolling`, `spec.budgetingMethod`; `kind: SLI` with
`spec.ratioMetric{counter, good|bad, total}`, each `metricSource{type, spec{query}}`;
`kind: Service` with `spec.description`.
"""

from __future__ import annotations

import re
from typing import Any

from generator import imports
from generator.errors import Problem, SpecError
from generator.load import Document

_DURATION = re.compile(r"^([0-9]+)([smhdw])$")
SCHEMA = "import-openslo.schema.json"
KINDS = ("SLO", "SLI", "Service")  # the kinds read; each has its definition in SCHEMA


def convert(docs: list[Document]) -> tuple[list[dict[str, Any]], list[Problem]]:
    notes: list[Problem] = []
    slis: dict[str, tuple[Document, tuple[str | int, ...], dict[str, Any]]] = {}
    descriptions: dict[str, str] = {}
    slos: list[Document] = []
    errors = [
        problem
        for doc in docs
        if isinstance(doc.data, dict)
        and doc.data.get("apiVersion") == "openslo/v1"
        and doc.data.get("kind") in KINDS
        for problem in imports.malformed(doc, SCHEMA, doc.data, definition=doc.data["kind"])
    ]
    if errors:
        raise SpecError(errors)
    for doc in docs:
        data = doc.data if isinstance(doc.data, dict) else {}
        kind = data.get("kind")
        if data.get("apiVersion") != "openslo/v1":
            notes.append(imports.note(doc, ("apiVersion",), "not an openslo/v1 document; skipped"))
        elif kind == "SLI":
            slis[str((data.get("metadata") or {}).get("name"))] = (doc, ("spec",), data)
        elif kind == "Service":
            name = imports.name(str((data.get("metadata") or {}).get("name", "")))
            if (data.get("spec") or {}).get("description"):
                descriptions[name] = str(data["spec"]["description"])
        elif kind == "SLO":
            slos.append(doc)
        else:
            notes.append(
                imports.note(
                    doc,
                    ("kind",),
                    f"kind {kind} has no promspec equivalent "
                    "(alerting is promspec's burn-rate policy); skipped",
                )
            )
    services: dict[str, dict[str, Any]] = {}
    for doc in slos:
        _slo(doc, slis, services, notes)
    specs = []
    for name in sorted(services):
        spec = services[name]
        if name in descriptions:
            spec = {
                **{k: spec[k] for k in ("version", "service")},
                "description": descriptions[name],
                **{k: v for k, v in spec.items() if k not in ("version", "service")},
            }
        specs.append(spec)
    return specs, notes


def _team(labels: Any) -> str | None:
    value = (labels or {}).get("team") if isinstance(labels, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return imports.name(value) if isinstance(value, str) else None


def _slo(
    doc: Document,
    slis: dict[str, tuple[Document, tuple[str | int, ...], dict[str, Any]]],
    services: dict[str, dict[str, Any]],
    notes: list[Problem],
) -> None:
    data = doc.data
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    service = imports.name(str(spec.get("service", "")))
    if not service:
        notes.append(imports.note(doc, ("spec",), "SLO without spec.service; skipped"))
        return
    name = imports.name(str(meta.get("name", "")))
    if name.startswith(service + "-"):
        name = name[len(service) + 1 :]
    slo_name = meta.get("name")
    target = services.setdefault(service, {"version": "promspec/v1", "service": service})
    team = _team(meta.get("labels"))
    if team and "team" not in target:
        target["team"] = team
    # The indicator: inline, or a reference to an SLI document.
    sli_path: tuple[str | int, ...]
    if "indicator" in spec:
        sli_doc, sli_path, sli = doc, ("spec", "indicator", "spec"), spec["indicator"]
    elif spec.get("indicatorRef") in slis:
        sli_doc, sli_path, sli = slis[spec["indicatorRef"]]
    else:
        notes.append(
            imports.note(
                doc,
                ("spec",),
                f"SLO '{slo_name}' skipped: no indicator (inline or a known indicatorRef)",
            )
        )
        return
    indicator = _ratio(sli_doc, sli_path, (sli.get("spec") or {}), str(slo_name), notes)
    if indicator is None:
        return
    out: dict[str, Any] = {"name": name}
    if spec.get("description"):
        out["description"] = str(spec["description"])
    objective = _objective(doc, spec, str(slo_name), notes)
    if objective is None:
        return
    out["objective"] = objective
    period = _period(doc, spec, str(slo_name), notes)
    if period:
        out["period"] = period
    group_by, ratio = indicator
    if group_by:
        out["group_by"] = list(group_by)
    out["indicator"] = {"ratio": ratio}
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        notes.append(
            imports.note(
                doc,
                ("spec", "budgetingMethod"),
                f"SLO '{slo_name}': "
                f"{spec['budgetingMethod']} budgeting is not carried over; "
                "promspec budgets by events (Occurrences)",
            )
        )
    if spec.get("alertPolicies"):
        notes.append(
            imports.note(
                doc,
                ("spec", "alertPolicies"),
                f"SLO '{slo_name}': alert "
                "policies are not carried over; promspec writes its "
                "multiwindow burn-rate alerts (tune them under alerting)",
            )
        )
    target.setdefault("slos", []).append(out)


def _ratio(
    doc: Document,
    path: tuple[str | int, ...],
    sli: dict[str, Any],
    slo_name: str,
    notes: list[Problem],
) -> tuple[tuple[str, ...], dict[str, str]] | None:
    ratio = sli.get("ratioMetric")
    if not isinstance(ratio, dict):
        kind = "a thresholdMetric" if "thresholdMetric" in sli else "no ratioMetric"
        notes.append(
            imports.note(
                doc,
                path,
                f"SLO '{slo_name}' skipped: {kind}; promspec "
                "SLIs are ratios of events (or latency/gauge, written by hand)",
            )
        )
        return None
    if "raw" in ratio:
        notes.append(
            imports.note(
                doc,
                (*path, "ratioMetric", "raw"),
                f"SLO '{slo_name}' "
                "skipped: a raw ratio cannot be carried over; promspec needs "
                "the counters (good or bad, and total)",
            )
        )
        return None
    out: dict[str, str] = {}
    group_by: set[tuple[str, ...]] = set()
    for side, key in (("good", "good"), ("bad", "errors"), ("total", "total")):
        if side not in ratio:
            continue
        source = (ratio[side] or {}).get("metricSource") or {}
        where = (*path, "ratioMetric", side, "metricSource")
        if str(source.get("type", "")).lower() != "prometheus":
            notes.append(
                imports.note(
                    doc,
                    (*where, "type"),
                    f"SLO '{slo_name}' skipped: "
                    f"metric source {source.get('type')!r} is not Prometheus",
                )
            )
            return None
        try:
            reduced = imports.reduce_counter_query(str((source.get("spec") or {}).get("query")))
        except imports.NotCarried as exc:
            notes.append(
                imports.note(
                    doc,
                    (*where, "spec", "query"),
                    f"SLO '{slo_name}' skipped: the {side} query cannot become a selector: {exc}",
                )
            )
            return None
        out[key] = reduced.selector
        group_by.add(reduced.group_by)
    if "total" not in out or len(out) != 2:
        notes.append(
            imports.note(
                doc,
                (*path, "ratioMetric"),
                f"SLO '{slo_name}' skipped: a ratio needs total and one of good or bad",
            )
        )
        return None
    if len(group_by) != 1:
        notes.append(
            imports.note(
                doc,
                (*path, "ratioMetric"),
                f"SLO '{slo_name}' skipped: the queries sum by different labels",
            )
        )
        return None
    return group_by.pop(), out


def _objective(doc: Document, spec: dict[str, Any], slo_name: str, notes: list[Problem]) -> Any:
    objectives = spec.get("objectives") or []
    if not objectives:
        notes.append(imports.note(doc, ("spec",), f"SLO '{slo_name}' skipped: no objectives"))
        return None
    if len(objectives) > 1:
        notes.append(
            imports.note(
                doc,
                ("spec", "objectives", 1),
                f"SLO '{slo_name}': only the "
                "first objective is carried over; promspec has one per SLO "
                "(add another SLO for the others)",
            )
        )
    first = objectives[0]
    if "target" in first:
        return imports.percent(float(first["target"]) * 100)
    if "targetPercent" in first:
        return imports.percent(float(first["targetPercent"]))
    notes.append(
        imports.note(
            doc, ("spec", "objectives", 0), f"SLO '{slo_name}' skipped: the objective has no target"
        )
    )
    return None


def _period(doc: Document, spec: dict[str, Any], slo_name: str, notes: list[Problem]) -> str:
    windows = spec.get("timeWindow") or []
    if not windows:
        return ""
    window = windows[0]
    duration = str(window.get("duration", ""))
    if not window.get("isRolling", False):
        notes.append(
            imports.note(
                doc,
                ("spec", "timeWindow", 0),
                f"SLO '{slo_name}': calendar windows are not carried over; "
                "promspec periods are rolling",
            )
        )
    match = _DURATION.match(duration)
    if not match:
        notes.append(
            imports.note(
                doc,
                ("spec", "timeWindow", 0, "duration"),
                f"SLO "
                f"'{slo_name}': duration {duration!r} has no Prometheus "
                "equivalent (M, Q, Y); the default period applies",
            )
        )
        return ""
    number, unit = int(match.group(1)), match.group(2)
    return f"{number * 7}d" if unit == "w" else duration
