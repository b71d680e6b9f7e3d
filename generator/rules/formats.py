"""Output targets: the canonical rule data of each service, written for each ruler.

Pure functions from rendered rule data to files (path under out/ -> bytes). Every format
carries the same rules (record, alert, expr, for, labels, annotations); only the envelope
differs: a plain rule file, a Kubernetes PrometheusRule, a Mimir/Cortex ruler namespace,
a Thanos Ruler file. A format is a function `(outputs, options) -> files` registered in
FORMATS; each service's files depend on that service alone, so a run may render only the
services it compiled. A format that spans services (Alertmanager routes) is registered in
FLEET_FORMATS and takes every service of the run.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generator import conventions
from generator.promql import fragments as promql
from generator.rules import alertmanager, render
from generator.slo.plan import SLOPlan
from generator.spec.model import Service

DEFAULT_MIMIR_MAX_RULES = conventions.MIMIR_DEFAULT_MAX_RULES
PARTIAL_RESPONSE_STRATEGIES = conventions.THANOS_PARTIAL_RESPONSE_STRATEGIES
PARTIAL_RESPONSE_KEY = "partial_response_strategy"  # Thanos-only; promtool 2.42 rejects it
_DNS_LABEL = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # RFC 1123 label
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class Options:
    """Which formats to write and how; the CLI fills it from flags."""

    formats: tuple[str, ...] = (conventions.FORMAT_PROMETHEUS,)
    namespace: str = conventions.OPERATOR_DEFAULT_NAMESPACE
    operator_name: str = conventions.OPERATOR_DEFAULT_NAME
    operator_labels: tuple[tuple[str, str], ...] = ()
    mimir_max_rules: int = DEFAULT_MIMIR_MAX_RULES
    partial_response_strategy: str = "abort"
    # The user's Alertmanager file (receivers, global, extra routes), already loaded.
    alertmanager_base: Mapping[str, Any] = field(default_factory=dict)
    alertmanager_source: str = ""


@dataclass(frozen=True)
class ServiceOutput:
    """Everything compiled for one service; formats take what they need."""

    service: Service
    plans: list[SLOPlan]
    rules: dict[str, Any]  # {"groups": [...]}, canonical, as in the plain rule file


Format = Callable[[list[ServiceOutput], Options], dict[str, bytes]]


def _text(data: Any, source: str) -> bytes:
    return render.dump(data, source).encode("utf-8")


def prometheus(outputs: list[ServiceOutput], options: Options) -> dict[str, bytes]:
    return {
        conventions.rules_path(o.service.name): _text(o.rules, o.service.source) for o in outputs
    }


def operator_name(options: Options, service: str) -> str:
    return options.operator_name.replace("{service}", service)


def operator(outputs: list[ServiceOutput], options: Options) -> dict[str, bytes]:
    """One PrometheusRule per service; its labels are what a ruleSelector matches."""
    files = {}
    for o in outputs:
        labels = dict(
            [conventions.MANAGED_BY_LABEL, (conventions.SERVICE_RESOURCE_LABEL, o.service.name)]
        )
        labels.update(options.operator_labels)
        obj = {
            "apiVersion": conventions.OPERATOR_API_VERSION,
            "kind": conventions.OPERATOR_KIND,
            "metadata": {
                "name": operator_name(options, o.service.name),
                "namespace": options.namespace,
                "labels": labels,
            },
            "spec": copy.deepcopy(o.rules),
        }
        files[conventions.operator_path(o.service.name)] = _text(obj, o.service.source)
    return files


def mimir(outputs: list[ServiceOutput], options: Options) -> dict[str, bytes]:
    """A ruler namespace per service, as `mimirtool rules sync` reads it."""
    files = {}
    for o in outputs:
        groups = split_groups(o.rules["groups"], options.mimir_max_rules)
        data = {"namespace": o.service.name, "groups": groups}
        files[conventions.mimir_path(o.service.name)] = _text(data, o.service.source)
    return files


def thanos(outputs: list[ServiceOutput], options: Options) -> dict[str, bytes]:
    """Thanos Ruler files: each group says what to do when a store answers partially."""
    files = {}
    for o in outputs:
        groups = [
            _with_after(g, "interval", PARTIAL_RESPONSE_KEY, options.partial_response_strategy)
            for g in o.rules["groups"]
        ]
        files[conventions.thanos_path(o.service.name)] = _text({"groups": groups}, o.service.source)
    return files


def _with_after(group: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """The group with key inserted after `after` (or after the name), order kept."""
    out: dict[str, Any] = {}
    anchor = after if after in group else "name"
    for k, v in group.items():
        out[k] = copy.deepcopy(v)
        if k == anchor:
            out[key] = value
    return out


def alertmanager_routes(services: list[Service], options: Options) -> dict[str, bytes]:
    config = alertmanager.config(services, options.alertmanager_base)
    return {
        conventions.ALERTMANAGER_ROUTES_PATH: alertmanager.dump(config, options.alertmanager_source)
    }


FORMATS: dict[str, Format] = {
    conventions.FORMAT_PROMETHEUS: prometheus,
    conventions.FORMAT_OPERATOR: operator,
    conventions.FORMAT_MIMIR: mimir,
    conventions.FORMAT_THANOS: thanos,
}
FLEET_FORMATS: dict[str, Callable[[list[Service], Options], dict[str, bytes]]] = {
    conventions.FORMAT_ALERTMANAGER: alertmanager_routes,
}


def render_files(
    outputs: list[ServiceOutput], options: Options, plain: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """The files of every per-service format; `plain`: the prometheus format's files,
    when the caller has them already (they are the same pure function of the same
    outputs)."""
    files: dict[str, bytes] = {}
    for name in options.formats:
        if name in FLEET_FORMATS:
            continue
        if name == conventions.FORMAT_PROMETHEUS and plain is not None:
            files.update(plain)
        else:
            files.update(FORMATS[name](outputs, options))
    return dict(sorted(files.items()))


def fleet_files(services: list[Service], options: Options) -> dict[str, bytes]:
    """The files of the formats that span every service of the run."""
    files: dict[str, bytes] = {}
    for name in options.formats:
        if name in FLEET_FORMATS:
            files.update(FLEET_FORMATS[name](services, options))
    return files


def option_problems(options: Options) -> list[str]:
    """What is wrong with the options (for the CLI to report as a usage error)."""
    known = [*FORMATS, *FLEET_FORMATS]
    problems = [
        f"unknown format '{f}'; choose from {', '.join(known)}"
        for f in options.formats
        if f not in known
    ]
    if options.mimir_max_rules < 1:
        problems.append("the maximum of rules per group must be 1 or more")
    if options.partial_response_strategy not in PARTIAL_RESPONSE_STRATEGIES:
        problems.append("partial_response_strategy is abort or warn")
    if "{service}" not in options.operator_name:
        problems.append(
            "the PrometheusRule name needs a {service} placeholder (one object per service)"
        )
    elif not _DNS_SUBDOMAIN.match(operator_name(options, "a")):
        problems.append("the PrometheusRule name must be lower-case letters, digits, '-' and '.'")
    if not _DNS_LABEL.match(options.namespace):
        problems.append(
            f"--namespace '{options.namespace}' is no Kubernetes namespace name: at most 63 "
            "lower-case letters, digits and '-', starting and ending with a letter or digit"
        )
    return problems


# -- Splitting groups for a ruler's per-group limit ------------------------------------


def split_groups(groups: list[dict[str, Any]], max_rules: int) -> list[dict[str, Any]]:
    """Groups of at most max_rules rules, cut deterministically.

    Rules of a group run in order, so a rule reading a series recorded earlier in the same
    group sees this evaluation's value; across groups it sees the previous one. Cuts are
    therefore made between runs of rules that read each other (one SLO's records and the
    alerts on them stay together), and order is always kept, so no rule ever reads a series
    recorded in a later part. Only a run longer than max_rules is cut inside; its later
    part then reads values up to one evaluation interval old.
    """
    out: list[dict[str, Any]] = []
    for group in groups:
        rules = group["rules"]
        if len(rules) <= max_rules:
            out.append(copy.deepcopy(group))
            continue
        for part, chunk in enumerate(_pack(_runs(rules), max_rules), start=1):
            piece = {k: copy.deepcopy(v) for k, v in group.items() if k != "rules"}
            piece["name"] = conventions.split_group_name(group["name"], part)
            piece["rules"] = copy.deepcopy(chunk)
            out.append(piece)
    return out


def _reads(rule: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether `rule` may read the series `record` writes (name and static labels agree)."""
    labels = record.get("labels", {})
    for name, matchers in promql.vector_selectors(rule["expr"]):
        if name != record["record"]:
            continue
        if all(labels.get(m.name, m.value) == m.value for m in matchers if m.op == "="):
            return True
    return False


def _runs(rules: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Contiguous runs of rules such that no rule reads a record from another run."""
    reach = list(range(len(rules)))  # reach[i]: the last rule that reads rule i (or i)
    for j, rule in enumerate(rules):
        for i in range(j):
            if "record" in rules[i] and _reads(rule, rules[i]):
                reach[i] = max(reach[i], j)
    runs: list[list[dict[str, Any]]] = []
    start, end = 0, 0
    for i in range(len(rules)):
        end = max(end, reach[i])
        if i == end:
            runs.append(rules[start : i + 1])
            start, end = i + 1, i + 1
    return runs


def _pack(runs: list[list[dict[str, Any]]], max_rules: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = [[]]
    for run in runs:
        if len(chunks[-1]) + len(run) > max_rules and chunks[-1]:
            chunks.append([])
        for rule in run:
            if len(chunks[-1]) == max_rules:
                chunks.append([])
            chunks[-1].append(rule)
    return chunks


# -- Reading every format back to plain rules (tests, and `promtool` on Thanos files) --


def plain_groups(path: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rule groups inside a generated file of any format, envelope removed."""
    groups = data["spec"]["groups"] if path.startswith("operator/") else data["groups"]
    return [{k: v for k, v in g.items() if k != PARTIAL_RESPONSE_KEY} for g in groups]
