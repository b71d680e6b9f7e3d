"""The fleet overview (one table row per service and SLO, worst budget first) and the
provisioning file that lets Grafana load the generated folder.

The table's queries are instant and keyed by (service, slo); Grafana merges them into one
row per SLO. Grouped SLOs show their worst group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from generator import conventions as n
from generator.dashboards import grafana as g
from generator.slo.plan import SLOPlan

KEYS = f"{n.SERVICE_LABEL}, {n.SLO_LABEL}"
# promspec's own series only: copies without a service label (compat.sloth's, or Sloth's
# own rules running beside promspec's) would meet in one empty key and break `on (KEYS)`.
OWN = f'{{{n.SERVICE_LABEL}!=""}}'

COLUMNS = {  # refId -> column title, in table order
    "A": "Objective",
    "B": "SLI over the period",
    "C": "Budget left",
    "D": "Fast burn",
}
BUDGET_COLUMN = COLUMNS["C"]
DEFAULT_BUDGET_LOW = 0.2  # the built-in budget_low alert: 80% consumed


@dataclass(frozen=True)
class Facts:
    """What the overview needs of one service: the shortest long window of each SLO that
    has burn tiers, the budget left at which each budget-low alert fires, and the count of
    SLOs. The spec cache keeps them, so a run that takes a service from it builds the
    overview without reading the service's plans back."""

    fast_windows: tuple[float, ...] = ()
    budget_low_levels: tuple[float, ...] = ()
    slos: int = 0


def facts(plans: Sequence[SLOPlan]) -> Facts:
    return Facts(
        fast_windows=tuple(min(t.tier.long_window for t in p.tiers) for p in plans if p.tiers),
        budget_low_levels=tuple(
            round(1 - b.consumed_percent / 100, 10)
            for p in plans
            for b in p.slo.alerting.budget_alerts
            if b.consumed_percent < 100
        ),
        slos=len(plans),
    )


def _fast_burn(fleet: Sequence[Facts]) -> str:
    """Each SLO's burn rate over its shortest long window (what pages first).

    One term per distinct window, shortest first: `or` keeps the left side for an SLO that
    records several of them, so the query stays short however many SLOs the fleet has.
    """
    windows = sorted({w for f in fleet for w in f.fast_windows})
    return " or ".join(
        f"max by ({KEYS}) ({n.error_ratio(w)}{OWN} / on ({KEYS}) group_left {n.ERROR_BUDGET}{OWN})"
        for w in windows
    )


def _budget_low(fleet: Sequence[Facts]) -> float:
    """The budget left at which the fleet's budget-low alerts fire (the laxest one)."""
    return max((level for f in fleet for level in f.budget_low_levels), default=DEFAULT_BUDGET_LOW)


def _column(name: str, *properties: tuple[str, Any]) -> tuple[str, list[dm.DynamicConfigValue]]:
    return name, [dm.DynamicConfigValue(key, value) for key, value in properties]


def _steps_json(steps: db.ThresholdsConfig) -> Any:
    return steps.build().to_json()


def overview_dashboard(fleet: Sequence[Facts]) -> str:
    """The fleet overview, from each service's Facts."""
    queries = {
        "A": f"max by ({KEYS}) ({n.OBJECTIVE}{OWN})",
        # The period's SLI from what the period rules record: remaining = 1 - ratio / budget.
        "B": f"1 - (1 - min by ({KEYS}) ({n.ERROR_BUDGET_REMAINING}{OWN}))"
        f" * on ({KEYS}) max by ({KEYS}) ({n.ERROR_BUDGET}{OWN})",
        "C": f"min by ({KEYS}) ({n.ERROR_BUDGET_REMAINING}{OWN})",
        "D": _fast_burn(fleet),
    }
    panel = (
        table.Panel()
        .id(1)
        .title("Every SLO, least error budget left first")
        .description(
            "One row per service and SLO (grouped SLOs show their worst group): objective, "
            "SLI and error budget left over the SLO's period, and the burn rate over the long "
            "window of its fastest tier (1x spends the budget exactly over the period)."
        )
        .datasource(g.DATASOURCE)
        .height(min(max(4 + sum(f.slos for f in fleet), 8), 40))
        .span(24)
        .cell_height(cm.TableCellHeight.SM)
        .sort_by([cb.TableSortByFieldState().display_name(BUDGET_COLUMN).desc(False)])
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "indexByName": {
                        n.SERVICE_LABEL: 0,
                        n.SLO_LABEL: 1,
                        **{f"Value #{ref}": i + 2 for i, ref in enumerate(COLUMNS)},
                    },
                    "renameByName": {
                        n.SERVICE_LABEL: "Service",
                        n.SLO_LABEL: "SLO",
                        **{f"Value #{ref}": title for ref, title in COLUMNS.items()},
                    },
                },
            )
        )
    )
    for ref, expr in queries.items():
        if expr:
            panel = panel.with_target(g.query(expr, instant=True, table=True).ref_id(ref))
    budget_steps = g.steps("red", (0.0, "orange"), (_budget_low(fleet), g.OK_COLOR))
    columns = [
        _column(COLUMNS["A"], ("unit", "percentunit"), ("decimals", 3)),
        _column(COLUMNS["B"], ("unit", "percentunit"), ("decimals", 3)),
        _column(
            BUDGET_COLUMN,
            ("unit", "percentunit"),
            ("decimals", 1),
            ("thresholds", _steps_json(budget_steps)),
            ("custom.cellOptions", {"type": "color-background"}),
        ),
        _column(
            COLUMNS["D"],
            ("unit", g.BURN_RATE_UNIT),
            ("decimals", 2),
            ("thresholds", _steps_json(g.steps(g.OK_COLOR, (1.0, "orange")))),
            ("custom.cellOptions", {"type": "color-text"}),
        ),
    ]
    for name, properties in columns:
        panel = panel.override_by_name(name, properties)
    dash = (
        db.Dashboard("SLO overview (promspec)")
        .uid(n.OVERVIEW_UID)
        .description("Every service's SLOs on one screen, worst error budget first.")
        .tags([n.DASHBOARD_TAG])
        .time("now-1h", "now")
        .refresh("5m")
        .timezone("browser")
        .with_variable(g.datasource_variable())
        .link(g.dashboard_links())
        .with_panel(panel)
    )
    return g.encode(dash.build())


PROVISIONING_HEADER = (
    "# Generated by promspec. Grafana file provisioning for the dashboards in this folder:\n"
    "# copy this file to /etc/grafana/provisioning/dashboards/ and mount (or copy) the folder\n"
    "# at options.path. Dashboards are read-only in Grafana: change the specs instead.\n"
)


def provisioning() -> str:
    data = {
        "apiVersion": 1,
        "providers": [
            {
                "name": n.DASHBOARD_TAG,
                "orgId": 1,
                "folder": "promspec",
                "folderUid": n.DASHBOARD_TAG,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": "/var/lib/grafana/dashboards/promspec",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
    return PROVISIONING_HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
