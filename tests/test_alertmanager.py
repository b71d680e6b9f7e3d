"""out/alertmanager/routes.yml: amtool accepts it and routes alerts where the docs say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, run_cli

ROUTES = "alertmanager/routes.yml"
SECOND_TEAM = """\
version: promspec/v1
service: search
team: discovery
runbook_base_url: https://runbooks.example.com/search
slos:
  - name: availability
    objective: 99.5
    indicator:
      ratio: {errors: 'search_requests_total{code=~"5.."}', total: search_requests_total}
"""
RECEIVERS = """\
# The one file the user owns: real integrations for the placeholder receivers.
global:
  resolve_timeout: 5m
route:
  receiver: default-email
  group_wait: 30s
  routes:
    - receiver: security-pager
      matchers: ['alertname="TLSCompromised"']
receivers:
  - name: default-email
    email_configs: [{to: ops@example.com, from: am@example.com, smarthost: 'mail.example.com:25'}]
  - name: security-pager
    webhook_configs: [{url: 'http://127.0.0.1:9999/security'}]
  - name: payments-pager
    webhook_configs: [{url: 'http://127.0.0.1:9999/payments-pager'}]
  - name: payments-ticket
    webhook_configs: [{url: 'http://127.0.0.1:9999/payments-ticket'}]
  - name: discovery-pager
    webhook_configs: [{url: 'http://127.0.0.1:9999/discovery-pager'}]
  - name: discovery-ticket
    webhook_configs: [{url: 'http://127.0.0.1:9999/discovery-ticket'}]
"""


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("amtool")
    assert tool, "amtool missing: run scripts/ensure-prometheus.sh (prometheus-alertmanager)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def generate(
    tmp_path: Path, receivers: str | None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    (specs / "search.yaml").write_text(SECOND_TEAM)
    if receivers is not None:
        (specs / "_alertmanager.yaml").write_text(receivers)
    result = run_cli("generate", "--format", "prometheus,alertmanager", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "out" / ROUTES, result


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = generate(tmp_path_factory.mktemp("am"), RECEIVERS)
    return path


def route_of(config: Path, *labels: str) -> str:
    result = amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_amtool_check_config_accepts_it(routes: Path) -> None:
    result = amtool("check-config", str(routes))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["team=payments", "severity=critical", "burn_tier=page_fast"], "payments-pager"),
        (["team=payments", "severity=warning", "burn_tier=ticket_slow"], "payments-ticket"),
        (["team=payments", "severity=info"], "promspec-null"),
        (["team=discovery", "severity=critical"], "discovery-pager"),
        (["team=discovery", "severity=warning"], "discovery-ticket"),
        (["team=payments"], "payments-ticket"),  # no severity: still reaches the team
        (["alertname=TLSCompromised", "team=payments", "severity=critical"], "security-pager"),
        (["team=unknown", "severity=critical"], "default-email"),
    ],
)
def test_routes(routes: Path, labels: list[str], receiver: str) -> None:
    assert route_of(routes, *labels) == receiver


def test_user_file_is_merged_in(routes: Path) -> None:
    config = yaml.safe_load(routes.read_text())
    assert config["global"] == {"resolve_timeout": "5m"}
    assert config["route"]["group_wait"] == "30s"
    assert [r["name"] for r in config["receivers"]] == [
        "default-email", "security-pager", "payments-pager", "payments-ticket",
        "discovery-pager", "discovery-ticket", "promspec-null",
    ]  # fmt: skip


def test_inhibit_rules(routes: Path) -> None:
    rules = yaml.safe_load(routes.read_text())["inhibit_rules"]
    tiers = [(r["source_matchers"], r["target_matchers"], r["equal"]) for r in rules[:3]]
    slo_equal = ["route", "service", "slo"]  # route: checkout-api's latency SLO group_by
    assert tiers == [
        (['burn_tier="page_fast"'], ['burn_tier=~"page_slow|ticket_fast|ticket_slow"'], slo_equal),
        (['burn_tier="page_slow"'], ['burn_tier=~"ticket_fast|ticket_slow"'], slo_equal),
        (['burn_tier="ticket_fast"'], ['burn_tier=~"ticket_slow"'], slo_equal),
    ]
    assert rules[3]["source_matchers"] == ['severity="critical"']
    assert rules[3]["target_matchers"] == ['severity=~"warning|info"']
    assert rules[3]["equal"] == ["alertname", "check", "instance", "job", "route", "service", "slo"]
    assert rules[4]["source_matchers"] == ['severity="warning"']
    assert rules[4]["target_matchers"] == ['severity="info"']
    assert len(rules) == 5


def test_placeholders_without_a_receivers_file_pass_amtool_and_warn(tmp_path: Path) -> None:
    path, result = generate(tmp_path, None)
    assert amtool("check-config", str(path)).returncode == 0
    assert route_of(path, "team=payments", "severity=critical") == "payments-pager"
    assert route_of(path, "team=nobody", "severity=critical") == "promspec-null"
    warnings = [line for line in result.stderr.splitlines() if "Alertmanager receiver" in line]
    assert warnings == [
        f"warning: Alertmanager receiver '{name}' has no integration yet; define it in "
        "_alertmanager.yaml (until then Alertmanager drops what reaches it)"
        for name in ("discovery-pager", "discovery-ticket", "payments-pager", "payments-ticket")
    ]


def test_a_mistake_in_the_receivers_file_names_its_line(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    (specs / "_alertmanager.yaml").write_text("receivers: []\nroutes: []\n")
    result = run_cli("generate", "--format", "alertmanager", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "error: specs/_alertmanager.yaml:2:9: routes: unknown key; the file holds global, "
        "templates, receivers, route, inhibit_rules, time_intervals, mute_time_intervals"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("receivers", "errors"),
    [
        (
            # A string group_by was merged as a list of its letters, silently.
            "route:\n  group_by: alertname\n  group_wait: 30\n  routes: {receiver: x}\n",
            [
                "2:13: route.group_by: group_by is a list of label names, e.g. [alertname, "
                "service]",
                "3:15: route.group_wait: group_wait is a duration, e.g. 30s",
                "4:11: route.routes: routes is a list of routes",
            ],
        ),
        (
            "receivers:\n  - name: a\n  - name: a\ntemplates: [3]\ninhibit_rules: [x]\n",
            [
                "3:11: receivers[1].name: receiver 'a' twice",
                "4:13: templates[0]: a template is a file path or glob",
                "5:17: inhibit_rules[0]: an inhibit rule is a mapping",
            ],
        ),
        (
            # Right shape, wrong for Alertmanager: amtool, on the merged configuration.
            "route:\n  group_wait: 30x\n",
            ['amtool rejected the Alertmanager configuration: not a valid duration string: "30x"'],
        ),
    ],
)
def test_the_receivers_file_is_checked_before_anything_is_written(
    tmp_path: Path, receivers: str, errors: list[str]
) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    (specs / "_alertmanager.yaml").write_text(receivers)
    result = run_cli("generate", "--format", "alertmanager", cwd=tmp_path)
    assert result.returncode == 1
    where = "error: specs/_alertmanager.yaml"
    assert result.stderr.splitlines()[:-1] == [
        f"{where}:{e}" if e[0].isdigit() else f"{where}: {e}" for e in errors
    ]
    assert not (tmp_path / "out").exists()
