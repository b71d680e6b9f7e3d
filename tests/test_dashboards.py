"""Grafana dashboards: every query parses and reads only series the rules record or the
spec names, every dashboard survives the SDK's decoder unchanged, alerts link panels.

The golden files (tests/golden/grafana/) pin the bytes; these tests pin the meaning.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml
from conftest import FIXTURES, ROOT, run_cli
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from generator import conventions
from generator.dashboards import grafana
from generator.dashboards import service as dashboards_module
from generator.errors import SpecError
from generator.pipeline import build_services
from generator.slo.plan import plan_service
from generator.spec.model import Service

GOLDEN = ROOT / "tests" / "golden"
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("dash") / "out"
    result = run_cli("generate", str(FIXTURES), "--out", str(target))
    assert result.returncode == 0, result.stderr
    return target


def dashboards(root: Path) -> dict[str, dict[str, Any]]:
    found = {p.name: json.loads(p.read_text()) for p in sorted((root / "grafana").glob("*.json"))}
    assert found
    return found


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dash["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels(dash) for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            names.add(node.name)

    pp.transform(pp.parse(expr), pre_visit=visit)
    return names


def recorded(root: Path) -> set[str]:
    names = set()
    for path in (root / "prometheus").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(r["record"] for r in group["rules"] if "record" in r)
    return names


def named_in_spec(service: Service) -> set[str]:
    """Every metric the spec's PromQL names; histograms with their series suffixes."""
    names: set[str] = set()
    for slo in service.slos:
        ind = slo.indicator
        if ind.kind == "latency":
            names.update(ind.histogram.metric + s for s in HISTOGRAM_SUFFIXES)
        elif ind.kind == "gauge":
            names.add(ind.metric.metric)
        else:
            names.update(s.metric for s in (ind.total, ind.errors, ind.good) if s)
    exprs = [t.expr for t in service.thresholds]
    exprs += [c.usage for c in service.capacity]
    exprs += [c.limit for c in service.capacity]
    exprs += [f.timestamp for f in service.freshness] + [e.timestamp for e in service.expiry]
    exprs += [a.selector for a in service.absence]
    for expr in exprs:
        names.update(metric_names(expr))
    return names


@pytest.mark.parametrize("root", [GOLDEN, ROOT / "out"], ids=["golden", "repo-out"])
def test_every_panel_query_parses_and_reads_known_series(root: Path) -> None:
    specs = FIXTURES if root == GOLDEN else ROOT / "specs"
    known = recorded(root)
    for service in build_services([specs], exclude=ROOT / "out"):
        known |= named_in_spec(service)
    checked = 0
    for name, dash in dashboards(root).items():
        for title, expr in queries(dash):
            unknown = metric_names(expr) - known  # parses, or pp.parse raises here
            assert not unknown, f"{name} panel {title!r} reads {unknown}: not recorded nor named"
            checked += 1
    assert checked > 20


def test_the_metric_check_catches_an_unknown_series() -> None:
    """The check above is only worth something if it can fail."""
    assert metric_names('rate(nope_total{job="x"}[5m]) / slo:objective:ratio') == {
        "nope_total",
        "slo:objective:ratio",
    }
    with pytest.raises(ValueError):
        pp.parse("sum(rate(x[5m])")


@pytest.mark.parametrize("root", [GOLDEN, ROOT / "out"], ids=["golden", "repo-out"])
def test_dashboards_decode_through_the_sdk_and_encode_identically(root: Path) -> None:
    register_default_plugins()
    for path in sorted((root / "grafana").glob("*.json")):
        text = path.read_text()
        decoded = Dashboard.from_json(json.loads(text))
        again = JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(decoded) + "\n"
        assert again == text, path.name
        assert decoded.uid and decoded.title and decoded.panels


def test_uids_derive_from_service_names() -> None:
    assert conventions.dashboard_uid("checkout-api") == "promspec-checkout-api"
    long = "a" * 63
    uid = conventions.dashboard_uid(long)
    assert len(uid) == 40
    assert uid == conventions.dashboard_uid(long)
    assert uid != conventions.dashboard_uid("a" * 62 + "b")


def test_service_dashboard_content(out: Path) -> None:
    dash = dashboards(out)["checkout-api.json"]
    assert dash["uid"] == "promspec-checkout-api"
    assert dash["templating"]["list"][0] == {
        **dash["templating"]["list"][0],
        "name": "datasource",
        "type": "datasource",
        "query": "prometheus",
    }
    all_panels = panels(dash)
    ids = [p["id"] for p in all_panels]
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**31 for i in ids)  # Grafana's int32
    burn_id = next(p["id"] for p in all_panels if p["title"] == "Burn rate by window")
    assert burn_id == grafana.panel_id("slo/availability/burn-rate")
    for p in all_panels:
        if p["type"] != "row":
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
    rows = [p["title"] for p in all_panels if p["type"] == "row"]
    assert rows == [
        "SLO availability: 99.95% over 30d",
        "SLO latency: 99% over 28d",
        "SLO probe: 99.9% over 7d",
        "Thresholds",
        "Capacity",
        "Freshness and expiry",
    ]

    def panel(title: str, after_row: str) -> dict[str, Any]:
        start = next(i for i, p in enumerate(all_panels) if p["title"] == after_row)
        return next(p for p in all_panels[start:] if p["title"] == title)

    burn = panel("Burn rate by window", "SLO availability: 99.95% over 30d")
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"),
        (1, "orange"),
        (3, "orange"),
        (6, "red"),
        (14.4, "red"),
    ]
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    assert [t["legendFormat"] for t in burn["targets"]] == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
    ]

    sli = panel("SLI by window", "SLO availability: 99.95% over 30d")
    assert sli["targets"][-1]["expr"] == (
        '1 - slo:sli_error:ratio_rate30d{service="checkout-api",slo="availability"}'
    )
    assert sli["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert sli["fieldConfig"]["defaults"]["decimals"] == 3

    trend = panel("Error budget left over the 28d period", "SLO latency: 99% over 28d")
    assert trend["timeFrom"] == "28d"
    latency = panel("Latency percentiles", "SLO latency: 99% over 28d")
    assert latency["fieldConfig"]["defaults"]["unit"] == "s"
    assert [s["value"] for s in latency["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [
        None,
        0.3,
    ]
    fire = panel("Would fire", "SLO availability: 99.95% over 30d")
    assert fire["targets"][0]["legendFormat"] == "page_fast"
    assert "avg_over_time" in fire["targets"][0]["expr"]  # min_traffic guard, as the alert
    # The low-traffic guard, as the alert: 99.95% page_fast needs 2 failed events in 1h.
    assert fire["targets"][0]["expr"].endswith(
        ' * ignoring (events) (round(avg_over_time(slo:sli_events:rate5m{service="checkout-api",'
        'slo="availability",events="errors"}[1h]) * 3600) >= bool 2))'
    )
    assert "page_fast: 1h and 5m above 14.4x, 2+ failed (critical)" in fire["description"]

    cpu = panel("cpu_high", "Thresholds")
    assert [
        (s["value"], s["color"]) for s in cpu["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ] == [
        (None, "green"),
        (70, "orange"),
        (85, "red"),
    ]
    assert cpu["fieldConfig"]["defaults"]["unit"] == "percent"
    disk = panel("disk: usage and limit", "Capacity")
    assert disk["fieldConfig"]["defaults"]["unit"] == "bytes"
    assert [t["legendFormat"] for t in disk["targets"]] == [
        "usage",
        "limit",
        "warning floor (30% headroom)",
        "critical floor (20% headroom)",
        "predicted in 4h",
    ]
    headroom = panel("disk: headroom", "Capacity")
    assert [
        (s["value"], s["color"]) for s in headroom["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ] == [(None, "red"), (0.2, "orange"), (0.3, "green")]
    cert = panel("tls_cert: time left", "Freshness and expiry")
    assert [
        (s["value"], s["color"]) for s in cert["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ] == [(None, "red"), (259200, "orange"), (604800, "blue"), (2592000, "green")]
    units = {p["fieldConfig"]["defaults"].get("unit") for p in all_panels if "fieldConfig" in p}
    assert {"percentunit", "percent", "s", "bytes", "reqps", "suffix:x"} <= units


def test_overview_lists_every_slo_worst_budget_first(out: Path) -> None:
    dash = dashboards(out)["overview.json"]
    assert dash["uid"] == conventions.OVERVIEW_UID
    (table,) = dash["panels"]
    assert table["type"] == "table"
    assert table["options"]["sortBy"] == [{"desc": False, "displayName": "Budget left"}]
    assert [t["refId"] for t in table["targets"]] == ["A", "B", "C", "D"]
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    renames = table["transformations"][1]["options"]["renameByName"]
    assert renames == {
        "service": "Service",
        "slo": "SLO",
        "Value #A": "Objective",
        "Value #B": "SLI over the period",
        "Value #C": "Budget left",
        "Value #D": "Fast burn",
    }
    fast = table["targets"][3]["expr"]
    # every fixture SLO's fastest tier has a 1h long window: one term serves them all
    assert fast == (
        'max by (service, slo) (slo:sli_error:ratio_rate1h{service!=""} '
        '/ on (service, slo) group_left slo:error_budget:ratio{service!=""})'
    )
    overridden = {o["matcher"]["options"] for o in table["fieldConfig"]["overrides"]}
    assert overridden == set(renames.values()) - {"Service", "SLO"}


def test_provisioning_is_a_file_provider(out: Path) -> None:
    data = yaml.safe_load((out / "grafana" / "provisioning.yaml").read_text())
    assert data["apiVersion"] == 1
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]


def _with_grafana_url(tmp_path: Path, url: str) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    defaults = specs / "_defaults.yaml"
    defaults.write_text(defaults.read_text() + f"grafana_url: {url}\n")
    return specs


def test_alerts_link_their_panel_when_grafana_url_is_set(tmp_path: Path, out: Path) -> None:
    specs = _with_grafana_url(tmp_path, "https://grafana.example.com/")
    target = tmp_path / "out"
    result = run_cli("generate", str(specs), "--out", str(target))
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load((target / "prometheus" / "checkout-api.rules.yml").read_text())
    dash = dashboards(target)["checkout-api.json"]
    titles = {p["id"]: p["title"] for p in panels(dash)}
    links: dict[tuple[str, str], str] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                key = (rule["alert"], rule["labels"].get("burn_tier", rule["labels"]["severity"]))
                links[key] = rule["annotations"]["dashboard_url"]
    base = "https://grafana.example.com/d/promspec-checkout-api"

    def title(alert: str, label: str) -> str:
        url = links[(alert, label)]
        assert url.startswith(base + "?viewPanel="), url
        return titles[int(url.rsplit("=", 1)[1])]

    assert title("CheckoutApiAvailabilityErrorBudgetBurn", "page_fast") == "Burn rate by window"
    assert title("CheckoutApiLatencyErrorBudgetLow", "warning").startswith("Error budget left over")
    assert title("CheckoutApiCpuHigh", "critical") == "cpu_high"
    assert title("CheckoutApiDiskHeadroomLow", "warning") == "disk: headroom"
    assert title("CheckoutApiBackupStale", "critical") == "backup: age"
    assert title("CheckoutApiTlsCertExpiring", "info") == "tls_cert: time left"
    assert links[("CheckoutApiScrapeAbsent", "critical")] == base  # no panel: the dashboard
    # Without grafana_url nothing links (and the golden rules stay byte-identical).
    plain = (out / "prometheus" / "checkout-api.rules.yml").read_text()
    assert conventions.DASHBOARD_URL_ANNOTATION not in plain
    # The dashboards themselves do not depend on the URL.
    for name in ("checkout-api.json", "overview.json"):
        assert (target / "grafana" / name).read_bytes() == (out / "grafana" / name).read_bytes()


def _links(rules_file: Path) -> dict[tuple[str, str], str]:
    """dashboard_url of every alert, by alert name and severity."""
    rules = yaml.safe_load(rules_file.read_text())
    return {
        (rule["alert"], rule["labels"]["severity"]): rule["annotations"]["dashboard_url"]
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_a_new_check_leaves_every_other_panel_id_and_link_alone(tmp_path: Path) -> None:
    specs = _with_grafana_url(tmp_path, "https://grafana.example.com")
    before, after = tmp_path / "before", tmp_path / "after"
    assert run_cli("generate", str(specs), "--out", str(before), "--no-promtool").returncode == 0
    spec = specs / "checkout-api.yaml"
    text = spec.read_text()
    # First of the thresholds: built before every other threshold, capacity and freshness
    # panel, which position-based ids would all have renumbered.
    added = "thresholds:\n  - {name: queue_deep, expr: queue_depth, warning: 100}\n"
    spec.write_text(text.replace("thresholds:\n", added, 1))
    result = run_cli("generate", str(specs), "--out", str(after), "--no-promtool")
    assert result.returncode == 0, result.stderr

    def ids(out: Path) -> dict[tuple[str, str], int]:
        dash = dashboards(out)["checkout-api.json"]
        row = ""
        found = {}
        for p in panels(dash):
            row = p["title"] if p["type"] == "row" else row
            found[(row, p["title"])] = p["id"]
        return found

    old_ids, new_ids = ids(before), ids(after)
    assert set(new_ids) - set(old_ids) == {("Thresholds", "queue_deep")}
    assert {k: new_ids[k] for k in old_ids} == old_ids
    rules = Path("prometheus") / "checkout-api.rules.yml"
    old_links, new_links = _links(before / rules), _links(after / rules)
    assert set(new_links) - set(old_links) == {("CheckoutApiQueueDeep", "warning")}
    assert {k: new_links[k] for k in old_links} == old_links
    queue = new_ids[("Thresholds", "queue_deep")]
    assert new_links[("CheckoutApiQueueDeep", "warning")].endswith(f"?viewPanel={queue}")


def test_panels_whose_ids_collide_fail_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    (service,) = build_services([FIXTURES])
    plans, _ = plan_service(service)
    assert dashboards_module.service_dashboard(service, plans).panels
    real = grafana.panel_id
    taken = real("threshold/cpu_high")
    monkeypatch.setattr(
        grafana, "panel_id", lambda key: taken if key == "capacity/disk/headroom" else real(key)
    )
    with pytest.raises(SpecError) as caught:
        dashboards_module.service_dashboard(service, plans)
    (problem,) = caught.value.problems
    assert problem.message == (
        f"dashboard panels 'threshold/cpu_high' and 'capacity/disk/headroom' would share id "
        f"{taken} in the dashboard of 'checkout-api'; rename one of those SLOs or checks"
    )


def test_dashboards_are_byte_identical_across_hash_seeds(tmp_path: Path, out: Path) -> None:
    again = tmp_path / "out"
    result = run_cli("generate", str(FIXTURES), "--out", str(again), env={"PYTHONHASHSEED": "4242"})
    assert result.returncode == 0, result.stderr
    for path in sorted((out / "grafana").iterdir()):
        assert (again / "grafana" / path.name).read_bytes() == path.read_bytes(), path.name
        assert path.read_bytes().endswith(b"}\n") or path.suffix == ".yaml"


def _sdk_text(obj: Any) -> str:
    """The reference: the SDK's own encoder with promspec's formatting."""
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(obj) + "\n"


def _synthetic_specs(root: Path, services: int) -> Path:
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from synth import write_specs

    return write_specs(root, services)


def test_fast_encoding_is_the_sdk_encoding_on_generated_dashboards(tmp_path: Path) -> None:
    """grafana.encode (C encoder + indentation added) writes the SDK encoder's bytes, and
    they decode through the SDK to the same bytes, for every dashboard of the seed specs,
    the fixtures and synthetic services."""
    from generator.dashboards import grafana
    from generator.dashboards import overview as dashboards_overview
    from generator.dashboards import service as dashboards_module
    from generator.slo.plan import plan_service

    built: list[Any] = []
    encode = grafana.encode

    def keep(dash: Any) -> str:
        built.append(dash)
        return encode(dash)

    grafana.encode = keep  # type: ignore[assignment]
    try:
        for specs in (ROOT / "specs", FIXTURES, _synthetic_specs(tmp_path, 5)):
            services = build_services([specs], exclude=ROOT / "out")
            plans = {s.name: plan_service(s)[0] for s in services}
            for service in services:
                dashboards_module.service_dashboard(service, plans[service.name])
            fleet = [dashboards_overview.facts(plans[s.name]) for s in services]
            dashboards_overview.overview_dashboard(fleet)
    finally:
        grafana.encode = encode  # type: ignore[assignment]
    assert len(built) > 10
    register_default_plugins()  # panel options and queries decode to their own types
    for dash in built:
        text = grafana.encode(dash)
        assert text == _sdk_text(dash), dash.uid
        # The SDK reads back what we wrote: no field it does not know, none it would drop.
        assert _sdk_text(Dashboard.from_json(json.loads(text))) == text, dash.uid


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [{}], "d": [[]], "e": {"f": {"g": []}}},
        [1, -2.5, 1e-300, 1e300, float("nan"), float("inf"), True, False, None, 0],
        {"z": 1, "a": 2, "M": [3, {"y": "x", "b": [4, 5]}]},
        {"braces": "{a,b}[c]", "quote": 'say "hi", {ok}', "bs": "a\\\\", "end": "x\\"},
        {"nl": "a\nb\tc", "uni": "π ≥ 3 ✓ 🚀", "ctl": "\x00\x1f", "sep": ": ,"},
        {'k,"{': ["[", "]", "{}", "[]", ",", ""]},
    ],
)
def test_indent_matches_json_indent_on_tricky_data(data: Any) -> None:
    from generator.dashboards import grafana

    compact = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    expected = json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2)
    assert grafana.indent(compact) == expected


def test_the_capacity_row_shows_every_level(tmp_path: Path) -> None:
    """Floors with their own `for`, several exhaustion levels, an exhaustion-only check."""
    from test_proofs import CAPACITY_SPEC

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "pool-api.yaml").write_text(CAPACITY_SPEC)
    result = run_cli("generate", str(specs), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    all_panels = panels(dashboards(tmp_path / "out")["pool-api.json"])

    def panel(title: str) -> dict[str, Any]:
        return next(p for p in all_panels if p["title"] == title)

    def legends(title: str) -> list[str]:
        return [t["legendFormat"] for t in panel(title)["targets"]]

    def steps(title: str) -> list[tuple[Any, str]]:
        found = panel(title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
        return [(s["value"], s["color"]) for s in found]

    assert legends("connections: usage and limit") == [
        "usage",
        "limit",
        "warning floor (25% headroom)",
        "critical floor (10% headroom for 2m)",
    ]
    assert steps("connections: headroom") == [(None, "red"), (0.1, "orange"), (0.25, "green")]
    assert legends("disk: usage and limit") == [
        "usage",
        "limit",
        "predicted in 6h (warning)",
        "predicted in 1h (critical)",
    ]
    assert "No headroom alert" in panel("disk: usage and limit")["description"]
    assert steps("disk: headroom") == [(None, "green")]
    assert legends("queue: usage and limit") == [
        "usage",
        "limit",
        "warning floor (30% headroom for 0s)",
        "critical floor (10% headroom)",
        "predicted in 4h",
    ]
