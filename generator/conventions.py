"""Every name promspec generates: recorded series, labels, alerts, groups, files.

One place, so dashboards, tests and rules always agree. Recorded series follow the
Prometheus `level:metric:operation` convention.
"""

from __future__ import annotations

import hashlib
import re

from generator.units import format_duration

# Labels promspec puts on what it generates; Alertmanager routes and inhibits on them.
SERVICE_LABEL = "service"
SLO_LABEL = "slo"
TEAM_LABEL = "team"
SEVERITY_LABEL = "severity"
BURN_TIER_LABEL = "burn_tier"
CHECK_LABEL = "check"  # which capacity/freshness/expiry check a recorded series belongs to
RESERVED_LABELS = frozenset(
    {SERVICE_LABEL, SLO_LABEL, TEAM_LABEL, SEVERITY_LABEL, BURN_TIER_LABEL, CHECK_LABEL}
)

SEVERITIES = ("critical", "warning", "info")

# The base rate window: raw series are read over this window only, once per SLO.
BASE_WINDOW_SECONDS = 300.0

# SLO series.
SLI_TOTAL = "slo:sli_total:rate5m"
SLI_ERRORS = "slo:sli_errors:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
ERROR_BUDGET_REMAINING = "slo:error_budget_remaining:ratio"

# Capacity, freshness and expiry series, labelled with CHECK_LABEL.
CAPACITY_USAGE = "capacity:usage:value"
CAPACITY_LIMIT = "capacity:limit:value"
CAPACITY_HEADROOM = "capacity:headroom:ratio"
FRESHNESS_AGE = "freshness:age:seconds"
EXPIRY_REMAINING = "expiry:remaining:seconds"


def window_name(seconds: float) -> str:
    return format_duration(seconds)


def error_ratio(window_seconds: float) -> str:
    return f"slo:sli_error:ratio_rate{window_name(window_seconds)}"


def burn_rate(window_seconds: float) -> str:
    return f"slo:burn_rate:ratio_rate{window_name(window_seconds)}"


def camel(*parts: str) -> str:
    """'vector-db', 'p99_latency' -> 'VectorDbP99Latency'."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def slo_alert(service: str, slo: str, what: str) -> str:
    """Stable alert names: one name per SLO and kind, tiers told apart by labels."""
    return camel(service, slo, what)


def check_alert(service: str, check: str, what: str = "") -> str:
    return camel(service, check, what)


def group_name(service: str, part: str) -> str:
    return f"promspec.{service}.{part}"


def rules_path(service: str) -> str:
    return f"prometheus/{service}.rules.yml"


# Grafana dashboards: uids are derived from names only, so links survive regeneration.
DASHBOARD_TAG = "promspec"
DATASOURCE_VARIABLE = "datasource"
DASHBOARD_URL_ANNOTATION = "dashboard_url"
OVERVIEW_NAME = "overview"  # reserved: no service may be called this (file and uid clash)
OVERVIEW_UID = "promspec-overview"
OVERVIEW_PATH = "grafana/overview.json"
PROVISIONING_PATH = "grafana/provisioning.yaml"
_UID_MAX = 40  # Grafana rejects longer uids


def dashboard_uid(service: str) -> str:
    """'checkout-api' -> 'promspec-checkout-api'; long names keep a prefix and a hash."""
    uid = f"promspec-{service}"
    if len(uid) <= _UID_MAX:
        return uid
    digest = hashlib.sha256(service.encode("utf-8")).hexdigest()[:8]
    return f"{uid[: _UID_MAX - 9]}-{digest}"


def dashboard_path(service: str) -> str:
    return f"grafana/{service}.json"


def dashboard_url(base: str, uid: str, panel_id: int | None = None) -> str:
    url = f"{base.rstrip('/')}/d/{uid}"
    return url if panel_id is None else f"{url}?viewPanel={panel_id}"


# promtool unit tests proving the rules: evaluated at 30s (page tiers, checks) and at 5m
# (tiers with windows over 6h, whose scenarios span days), as the rule groups are.
def tests_path(service: str) -> str:
    return f"tests/{service}.test.yml"


def long_tests_path(service: str) -> str:
    return f"tests/{service}.long.test.yml"


def user_tests_path(spec: str, service: str) -> str:
    """Hand-written tests a user keeps next to the spec: specs/<service>.test.yml."""
    return f"{spec.rsplit('/', 1)[0] + '/' if '/' in spec else ''}{service}.test.yml"


# Burn tiers of an SLO's alert policy, most urgent first: a firing tier inhibits the
# tiers after it in Alertmanager (same service and SLO).
BURN_TIERS = ("page_fast", "page_slow", "ticket_fast", "ticket_slow")

# Output formats (`--format`) and the files each writes under out/.
FORMAT_PROMETHEUS = "prometheus"
FORMAT_OPERATOR = "operator"
FORMAT_MIMIR = "mimir"
FORMAT_THANOS = "thanos"
FORMAT_ALERTMANAGER = "alertmanager"


def operator_path(service: str) -> str:
    return f"operator/{service}.yaml"


def mimir_path(service: str) -> str:
    return f"mimir/{service}.yaml"


def thanos_path(service: str) -> str:
    return f"thanos/{service}.rules.yml"


ALERTMANAGER_ROUTES_PATH = "alertmanager/routes.yml"

# prometheus-operator PrometheusRule objects.
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"
OPERATOR_KIND = "PrometheusRule"
OPERATOR_DEFAULT_NAME = "promspec-{service}"
OPERATOR_DEFAULT_NAMESPACE = "monitoring"
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "promspec")
SERVICE_RESOURCE_LABEL = "promspec.dev/service"


def split_group_name(group: str, part: int) -> str:
    """A rule group cut into parts for a ruler's per-group limit: name.1, name.2, ..."""
    return f"{group}.{part}"


# Alertmanager: placeholder receivers per team, mapped to real integrations by the user
# in the receivers file beside the specs.
ALERTMANAGER_FILES = ("_alertmanager.yaml", "_alertmanager.yml")
NULL_RECEIVER = "promspec-null"


def pager_receiver(team: str) -> str:
    return f"{team}-pager"


def ticket_receiver(team: str) -> str:
    return f"{team}-ticket"
