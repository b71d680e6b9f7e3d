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

from generator.errors import Problem, SpecError
from generator.importers import common as imports
from generator.spec.load import Document

_DURATION = re.compile(r"^([0-9]+)([smhdw])$")
SCHEMA = "import-openslo.schema.json"
KINDS = ("SLO", "SLI", "Service")  # the kinds read; each has its definition in SCHEMA


def expand(docs: list[Document]) -> list[Document]:
    """A document holding a YAML list of documents (as `kubectl get -o yaml` or the OpenSLO
    SDKs write them) counts as those documents, each at its own lines."""
    out: list[Document] = []
    for doc in docs:
        if not isinstance(doc.data, list):
            out.append(doc)
            continue
        for i, item in enumerate(doc.data):
            positions = {p[1:]: v for p, v in doc.positions.items() if p and p[0] == i}
            out.append(Document(doc.file, doc.index, item, positions))
    return out


def convert(docs: list[Document]) -> tuple[list[dict[str, Any]], list[Problem]]:
    notes: list[Problem] = []
    docs = expand(docs)
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
            spec["description"] = descriptions[name]
        order = ("version", "service", "description", "team")  # as docs/spec.md writes them
        specs.append({k: spec[k] for k in (*order, *spec) if k in spec})
    return specs, notes


def _team(doc: Document, labels: Any, slo_name: str, notes: list[Problem]) -> str | None:
    """The team label; a label of several values is noted (promspec labels take one)."""
    labels = labels if isinstance(labels, dict) else {}
    for label, value in labels.items():
        if isinstance(value, list) and len(value) > 1:
            shown = ", ".join(str(v) for v in value)
            what = (
                "promspec routes each service to one team: set team"
                if label == "team"
                else "promspec labels take one value: set it under labels"
            )
            notes.append(
                imports.note(
                    doc,
                    ("metadata", "labels", label),
                    f"SLO '{slo_name}': label {label} has several values ({shown}); "
                    f"not carried over: {what}",
                )
            )
    value = labels.get("team")
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
    sli_spec = sli.get("spec") or {}
    if "thresholdMetric" in sli_spec:
        latency = _threshold(sli_doc, sli_path, sli_spec, doc, spec, str(slo_name), notes)
        if latency is None:
            return
        group_by, indicator, objective = latency
    else:
        ratio = _ratio(sli_doc, sli_path, sli_spec, str(slo_name), notes)
        if ratio is None:
            return
        group_by, indicator = ratio[0], {"ratio": ratio[1]}
        objective = _objective(doc, spec, str(slo_name), notes)
        if objective is None:
            return
    out: dict[str, Any] = {"name": name}
    if spec.get("description"):
        out["description"] = str(spec["description"])
    out["objective"] = objective
    period = _period(doc, spec, str(slo_name), notes)
    if period:
        out["period"] = period
    if group_by:
        out["group_by"] = list(group_by)
    out["indicator"] = indicator
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
    target = services.setdefault(service, {"version": "promspec/v1", "service": service})
    team = _team(doc, meta.get("labels"), str(slo_name), notes)
    if team and "team" not in target:
        target["team"] = team
    target.setdefault("slos", []).append(out)


def _threshold(
    sli_doc: Document,
    sli_path: tuple[str | int, ...],
    sli: dict[str, Any],
    doc: Document,
    spec: dict[str, Any],
    slo_name: str,
    notes: list[Problem],
) -> tuple[tuple[str, ...], dict[str, Any], float | int] | None:
    """A thresholdMetric promspec can express: a histogram's quantile kept under a latency
    (op lt or lte, value in seconds) is that share of requests within the latency."""
    where = (*sli_path, "thresholdMetric", "metricSource")
    source = (sli.get("thresholdMetric") or {}).get("metricSource") or {}
    if str(source.get("type", "")).lower() != "prometheus":
        notes.append(
            imports.note(
                sli_doc,
                (*where, "type"),
                f"SLO '{slo_name}' skipped: metric source {source.get('type')!r} is not Prometheus",
            )
        )
        return None
    try:
        latency, quantile = imports.reduce_quantile_query(
            str((source.get("spec") or {}).get("query"))
        )
    except imports.NotCarried as exc:
        notes.append(
            imports.note(
                sli_doc,
                (*where, "spec", "query"),
                f"SLO '{slo_name}' skipped: a thresholdMetric is carried over only as a "
                f"histogram_quantile of a histogram's buckets (indicator.latency), and {exc}",
            )
        )
        return None
    objectives = spec.get("objectives") or []
    first = objectives[0] if objectives and isinstance(objectives[0], dict) else {}
    op, value = first.get("op"), first.get("value")
    if op not in ("lt", "lte") or not isinstance(value, int | float) or value <= 0:
        notes.append(
            imports.note(
                doc,
                ("spec", "objectives", 0),
                f"SLO '{slo_name}' skipped: a latency objective needs op lt or lte and a "
                "value (the latency in seconds)",
            )
        )
        return None
    objective = imports.percent(quantile * 100)
    level = imports.percent(float(value))
    target = first.get("target", first.get("targetPercent"))
    notes.append(
        imports.note(
            doc,
            ("spec", "objectives", 0),
            f"SLO '{slo_name}' becomes indicator.latency: {objective}% of requests within "
            f"{level}s (the quantile and value), not the target {target} of good data "
            f"points; buckets list only {level}: add the histogram's other boundaries",
        )
    )
    if len(objectives) > 1:
        notes.append(
            imports.note(
                doc,
                ("spec", "objectives", 1),
                f"SLO '{slo_name}': only the first objective is carried over; promspec has "
                "one per SLO (add another SLO for the others)",
            )
        )
    indicator = {
        "latency": {"histogram": latency.histogram, "threshold": level, "buckets": [level]}
    }
    return latency.group_by, indicator, objective


def _ratio(
    doc: Document,
    path: tuple[str | int, ...],
    sli: dict[str, Any],
    slo_name: str,
    notes: list[Problem],
) -> tuple[tuple[str, ...], dict[str, str]] | None:
    ratio = sli.get("ratioMetric")
    if not isinstance(ratio, dict):
        kind = "no ratioMetric or thresholdMetric"
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
