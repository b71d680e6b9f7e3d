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
# What an slo:sli_events series counts: events (total, errors) per second over its window,
# or the share of the window with data (history).
EVENTS_LABEL = "events"
EVENTS_TOTAL = "total"
EVENTS_ERRORS = "errors"
EVENTS_HISTORY = "history"
# Tells apart the pieces of a window while they are summed; never recorded. A short name
# is safe: the summed series carry only service, slo, events and the SLO's group_by
# labels, and group_by may not use a reserved label (it is written ~30 times a file).
PIECE_LABEL = "piece"
RESERVED_LABELS = frozenset(
    {
        SERVICE_LABEL,
        SLO_LABEL,
        TEAM_LABEL,
        SEVERITY_LABEL,
        BURN_TIER_LABEL,
        CHECK_LABEL,
        EVENTS_LABEL,
        PIECE_LABEL,
    }
)

SEVERITIES = ("critical", "warning", "info")

# The base rate window: raw series are read over this window only, once per SLO.
BASE_WINDOW_SECONDS = 300.0

# SLO series.
SLI_EVENTS = "slo:sli_events:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
ERROR_BUDGET_REMAINING = "slo:error_budget_remaining:ratio"

# compat.sloth: the series and labels Sloth's Grafana dashboards read, recorded from
# promspec's own series (templates/rules_sloth.yml.j2). Sloth's error ratios keep the name
# error_ratio(window) with the sloth labels and without service and slo, so promspec's
# selectors ({service=..., slo=...}) never match them.
SLOTH_CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
SLOTH_PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
SLOTH_PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
SLOTH_TIME_PERIOD_DAYS = "slo:time_period:days"
SLOTH_INFO = "sloth_slo_info"
SLOTH_SERVICE_LABEL = "sloth_service"
SLOTH_SLO_LABEL = "sloth_slo"
SLOTH_ID_LABEL = "sloth_id"
SLOTH_WINDOW_LABEL = "sloth_window"
SLOTH_OBJECTIVE_LABEL = "sloth_objective"


def sloth_id(service: str, slo: str) -> str:
    """Sloth's id of an SLO: '<service>-<slo>'."""
    return f"{service}-{slo}"


# Capacity, freshness and expiry series, labelled with CHECK_LABEL.
CAPACITY_USAGE = "capacity:usage:value"
CAPACITY_LIMIT = "capacity:limit:value"
CAPACITY_HEADROOM = "capacity:headroom:ratio"
FRESHNESS_AGE = "freshness:age:seconds"
EXPIRY_REMAINING = "expiry:remaining:seconds"


def window_name(seconds: float) -> str:
    return format_duration(seconds)


def sli_events(window_seconds: float) -> str:
    """Events per second (and the share with data) over the window, by EVENTS_LABEL."""
    return f"slo:sli_events:rate{window_name(window_seconds)}"


def error_ratio(window_seconds: float) -> str:
    return f"slo:sli_error:ratio_rate{window_name(window_seconds)}"


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
# (tiers with windows over 6h, whose scenarios span days), as the rule groups are. Built
# by `promspec test`, written only with --write-proofs DIR (beside DIR/prometheus/), and
# never into out/.
def tests_path(service: str) -> str:
    return f"tests/{service}.test.yml"


def long_tests_path(service: str) -> str:
    return f"tests/{service}.long.test.yml"


def windows_tests_path(service: str, source_seconds: float) -> str:
    """The window layer's tests of the recipes built from copies of one source window."""
    return f"tests/{service}.windows.{window_name(source_seconds)}.test.yml"


def is_tests_of(path: str, service: str) -> bool:
    """Whether `path` is one of the generated test files of `service` (the three above)."""
    return (
        re.fullmatch(rf"tests/{re.escape(service)}(\.long|\.windows\.\w+)?\.test\.yml", path)
        is not None
    )


def user_tests_path(spec: str, service: str) -> str:
    """Hand-written tests a user keeps next to the spec: specs/<service>.test.yml."""
    return f"{spec.rsplit('/', 1)[0] + '/' if '/' in spec else ''}{service}.test.yml"


# The first line of every generated rule file; a file starting with it is never read back
# as a spec.
GENERATED_HEADER = (
    "# Generated by promspec from {source}. DO NOT EDIT: change the spec and run `make generate`.\n"
)

# Burn tiers of an SLO's alert policy, most urgent first: a firing tier inhibits the
# tiers after it in Alertmanager (same service and SLO).
BURN_TIERS = ("page_fast", "page_slow", "ticket_fast", "ticket_slow")

# Output formats (`--format`) and the files each writes under out/.
FORMAT_PROMETHEUS = "prometheus"
FORMAT_OPERATOR = "operator"
FORMAT_MIMIR = "mimir"
FORMAT_THANOS = "thanos"
FORMAT_ALERTMANAGER = "alertmanager"
# Every format, in the order of `--format`'s help (generator/rules/formats.py maps each to its
# writer; tests/test_cache.py checks the two agree). Here so that the command line can
# list them without importing the writers.
FORMAT_NAMES = (
    FORMAT_PROMETHEUS,
    FORMAT_OPERATOR,
    FORMAT_MIMIR,
    FORMAT_THANOS,
    FORMAT_ALERTMANAGER,
)
MIMIR_DEFAULT_MAX_RULES = 20  # Mimir's default -ruler.max-rules-per-rule-group
THANOS_PARTIAL_RESPONSE_STRATEGIES = ("abort", "warn")


def operator_path(service: str) -> str:
    return f"operator/{service}.yaml"


def mimir_path(service: str) -> str:
    return f"mimir/{service}.yaml"


def thanos_path(service: str) -> str:
    return f"thanos/{service}.rules.yml"


ALERTMANAGER_ROUTES_PATH = "alertmanager/routes.yml"

# Every folder of out/ and of the proofs tree (each file is <folder>/<name>): what else
# sits in a directory tells it is not promspec's, and promspec refuses to replace it.
# (tests/ stays one of out/'s too: an out/ written when it held the proofs is replaced.)
OUT_FOLDERS = frozenset(
    path.split("/")[0]
    for path in (
        rules_path("x"),
        dashboard_path("x"),
        tests_path("x"),
        operator_path("x"),
        mimir_path("x"),
        thanos_path("x"),
        ALERTMANAGER_ROUTES_PATH,
    )
)

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
