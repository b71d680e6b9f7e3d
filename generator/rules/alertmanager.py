"""An Alertmanager configuration routing promspec's alerts by team and severity.

critical goes to the team's pager receiver, warning to its ticket receiver, info nowhere.
Receivers are placeholders named `<team>-pager` and `<team>-ticket`; the user defines
them (and anything else of their own) in one file beside the specs, `_alertmanager.yaml`,
which is merged in: their receivers, global settings and templates are kept, their routes
and inhibit rules come before ours. A placeholder they have not defined is written
without integrations (Alertmanager drops what reaches it) and reported as a warning.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.promql import fragments as promql
from generator.rules import render
from generator.spec.load import Document

# Keys of the user's file, with what they may hold; Alertmanager itself checks the rest.
USER_KEYS = (
    "global",
    "templates",
    "receivers",
    "route",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
)
ROUTE_KEYS = ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "routes")
DEFAULT_GROUP_BY = ["alertname", conventions.SERVICE_LABEL, conventions.SLO_LABEL]
# Labels every scraped series has; kept by any expression that does not aggregate them away.
_TARGET_LABELS = ("instance", "job")


def check_user_file(doc: Document) -> list[Problem]:
    """Problems with the user's Alertmanager file, each naming its line.

    What promspec merges must have the shape it merges it as (a `group_by: alertname`
    string would become a list of letters); amtool checks the whole result after."""
    data = doc.data
    if not isinstance(data, dict):
        return [doc.problem((), "the Alertmanager file is a mapping of receivers, route, ...")]
    problems = [
        doc.problem((key,), f"unknown key; the file holds {', '.join(USER_KEYS)}")
        for key in data
        if key not in USER_KEYS
    ]
    route = data.get("route", {})
    if not isinstance(route, dict):
        problems.append(doc.problem(("route",), "route is a mapping"))
    else:
        problems += [
            doc.problem(("route", key), f"unknown key; route takes {', '.join(ROUTE_KEYS)}")
            for key in route
            if key not in ROUTE_KEYS
        ]
        problems += _route_shape(doc, route)
    for key in ("receivers", "inhibit_rules", "templates"):
        if key in data and not isinstance(data[key], list):
            problems.append(doc.problem((key,), f"{key} is a list ('- item' lines)"))
    for i, rule in enumerate(_list(data.get("inhibit_rules"))):
        if not isinstance(rule, dict):
            problems.append(doc.problem(("inhibit_rules", i), "an inhibit rule is a mapping"))
    for i, template in enumerate(_list(data.get("templates"))):
        if not isinstance(template, str):
            problems.append(doc.problem(("templates", i), "a template is a file path or glob"))
    seen: set[str] = set()
    for i, receiver in enumerate(_list(data.get("receivers"))):
        name = receiver.get("name") if isinstance(receiver, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(doc.problem(("receivers", i), "every receiver needs a name"))
        elif name in seen:
            problems.append(doc.problem(("receivers", i, "name"), f"receiver '{name}' twice"))
        else:
            seen.add(name)
    return problems


def _route_shape(doc: Document, route: dict[str, Any]) -> list[Problem]:
    wanted = {
        "receiver": (str, "a receiver's name"),
        "group_by": (list, "a list of label names, e.g. [alertname, service]"),
        "routes": (list, "a list of routes"),
        "group_wait": (str, "a duration, e.g. 30s"),
        "group_interval": (str, "a duration, e.g. 5m"),
        "repeat_interval": (str, "a duration, e.g. 4h"),
    }
    problems = [
        doc.problem(("route", key), f"{key} is {what}")
        for key, (kind, what) in wanted.items()
        if key in route and not isinstance(route[key], kind)
    ]
    problems += [
        doc.problem(("route", "group_by", i), "a label name is a string")
        for i, label in enumerate(_list(route.get("group_by")))
        if not isinstance(label, str)
    ]
    problems += [
        doc.problem(("route", "routes", i), "a route is a mapping (receiver, matchers, ...)")
        for i, child in enumerate(_list(route.get("routes")))
        if not isinstance(child, dict)
    ]
    return problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def teams(services: Sequence[Any]) -> list[str]:
    return sorted({s.team for s in services})


def placeholders(services: Sequence[Any]) -> list[str]:
    names = [conventions.NULL_RECEIVER]
    for team in teams(services):
        names += [conventions.pager_receiver(team), conventions.ticket_receiver(team)]
    return names


def undefined_receivers(services: Sequence[Any], base: Mapping[str, Any]) -> list[str]:
    """Placeholder receivers the user has not mapped to an integration yet."""
    defined = {r["name"] for r in base.get("receivers") or []}
    return [
        name
        for name in placeholders(services)
        if name != conventions.NULL_RECEIVER and name not in defined
    ]


def _matcher(label: str, value: str) -> str:
    return f"{label}={promql.quote(value)}"


def _team_route(team: str) -> dict[str, Any]:
    sev = conventions.SEVERITY_LABEL
    return {
        # Anything of the team's without a known severity still reaches a person.
        "receiver": conventions.ticket_receiver(team),
        "matchers": [_matcher(conventions.TEAM_LABEL, team)],
        "routes": [
            {"receiver": conventions.pager_receiver(team), "matchers": [_matcher(sev, "critical")]},
            {"receiver": conventions.ticket_receiver(team), "matchers": [_matcher(sev, "warning")]},
            {"receiver": conventions.NULL_RECEIVER, "matchers": [_matcher(sev, "info")]},
        ],
    }


def identity_labels(services: Sequence[Any]) -> list[str]:
    """Labels that tell two alerts of one rule apart (besides severity).

    Alertmanager's `equal` treats a label missing on both sides as equal, so listing
    every label an alert may carry only narrows inhibition to the same series."""
    labels = {
        "alertname",
        conventions.SERVICE_LABEL,
        conventions.SLO_LABEL,
        conventions.CHECK_LABEL,
        *_TARGET_LABELS,
    }
    for service in services:
        for slo in service.slos:
            labels.update(slo.group_by)
        for check in (*service.thresholds, *service.capacity, *service.freshness, *service.expiry):
            for expr in (
                getattr(check, "expr", ""),
                getattr(check, "usage", ""),
                getattr(check, "timestamp", ""),
            ):
                if expr:
                    labels.update(promql.grouping_labels(expr))
    return sorted(labels - {"le"})  # bucket bounds never survive histogram_quantile


def inhibit_rules(services: Sequence[Any]) -> list[dict[str, Any]]:
    """A faster burn tier silences the slower ones of the same SLO; critical silences
    warning and info of the same alert and series; warning silences info."""
    tier = conventions.BURN_TIER_LABEL
    slo_equal = sorted(
        {conventions.SERVICE_LABEL, conventions.SLO_LABEL}
        | {label for s in services for slo in s.slos for label in slo.group_by}
    )
    rules: list[dict[str, Any]] = []
    tiers = conventions.BURN_TIERS
    for i, source in enumerate(tiers[:-1]):
        rules.append(
            {
                "source_matchers": [_matcher(tier, source)],
                "target_matchers": [f"{tier}=~{promql.quote('|'.join(tiers[i + 1 :]))}"],
                "equal": list(slo_equal),
            }
        )
    sev = conventions.SEVERITY_LABEL
    equal = identity_labels(services)
    rules.append(
        {
            "source_matchers": [_matcher(sev, "critical")],
            "target_matchers": [f"{sev}=~{promql.quote('warning|info')}"],
            "equal": list(equal),
        }
    )
    rules.append(
        {
            "source_matchers": [_matcher(sev, "warning")],
            "target_matchers": [_matcher(sev, "info")],
            "equal": list(equal),
        }
    )
    return rules


def config(services: Sequence[Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """The whole Alertmanager configuration: the user's file with our routes merged in."""
    user = copy.deepcopy(dict(base))
    user_route = user.pop("route", {}) or {}
    route: dict[str, Any] = {
        "receiver": user_route.get("receiver", conventions.NULL_RECEIVER),
        "group_by": list(user_route.get("group_by", DEFAULT_GROUP_BY)),
    }
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in user_route:
            route[key] = user_route[key]
    route["routes"] = [*(user_route.get("routes") or []), *map(_team_route, teams(services))]
    receivers = list(user.pop("receivers", None) or [])
    defined = {r["name"] for r in receivers}
    receivers += [{"name": n} for n in placeholders(services) if n not in defined]
    out: dict[str, Any] = {}
    for key in ("global", "templates"):
        if key in user:
            out[key] = user.pop(key)
    out["route"] = route
    out["inhibit_rules"] = [*(user.pop("inhibit_rules", None) or []), *inhibit_rules(services)]
    out["receivers"] = receivers
    out.update(user)  # time intervals
    return out


def dump(data: Mapping[str, Any], base_source: str) -> bytes:
    """YAML with the header of every generated file, naming the user's file if any."""
    source = "the specs' teams" + (f" and {base_source}" if base_source else "")
    return render.dump(dict(data), source).encode("utf-8")
