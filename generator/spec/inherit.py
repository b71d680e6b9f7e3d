"""Defaults: built-in, then the org's defaults file, then the service spec, the last winning.

The built-in numbers are the SRE workbook's (Alerting on SLOs): four burn-rate tiers
that spend 2% / 5% / 10% / 10% of the budget in 1h / 6h / 1d / 3d.
"""

from __future__ import annotations

import copy
from typing import Any

BUILTIN: dict[str, Any] = {
    "tiers": {"standard": 99.9, "premium": 99.95, "enterprise": 99.99},
    "labels": {},
    "slo": {
        "period": "30d",
        "alerting": {
            "page_fast": {
                "enabled": True,
                "budget_percent": 2,
                "long_window": "1h",
                "severity": "critical",
                "for": "0s",
            },
            "page_slow": {
                "enabled": True,
                "budget_percent": 5,
                "long_window": "6h",
                "severity": "critical",
                "for": "0s",
            },
            "ticket_fast": {
                "enabled": True,
                "budget_percent": 10,
                "long_window": "1d",
                "severity": "warning",
                "for": "0s",
            },
            "ticket_slow": {
                "enabled": True,
                "budget_percent": 10,
                "long_window": "3d",
                "severity": "warning",
                "for": "0s",
            },
            "budget_low": {
                "enabled": True,
                "consumed_percent": 80,
                "severity": "warning",
                "for": "0s",
            },
            "budget_exhausted": {
                "enabled": True,
                "consumed_percent": 100,
                "severity": "warning",
                "for": "0s",
            },
            "min_traffic": 0,
            "no_data": {"for": "15m", "severity": "warning"},
            "traffic_stopped": False,
        },
    },
    "threshold": {"for": "5m"},
    "presets": {},
    "capacity": {
        "headroom": {"warning": 30, "critical": 20},
        "for": "15m",
        "exhaustion": {"lookback": "6h", "severity": "warning", "for": "10m"},
    },
    "freshness": {"for": "0s"},
    "expiry": {"for": "0s"},
    "absence": {"for": "10m", "severity": "critical"},
}


def merge(base: Any, override: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            if key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if override is False and isinstance(base, dict):
        return {**base, "enabled": False}
    return copy.deepcopy(override)


def effective_defaults(org: dict[str, Any] | None) -> dict[str, Any]:
    org = {k: v for k, v in (org or {}).items() if k not in ("version", "kind", "$schema")}
    result: dict[str, Any] = merge(BUILTIN, org)
    return result
