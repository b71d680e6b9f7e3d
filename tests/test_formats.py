"""Output formats: each has its ruler's shape, and all carry exactly the same rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, ROOT, run_cli

from generator.rules import formats

SERVICE = "checkout-api"
FILES = {
    "prometheus": f"prometheus/{SERVICE}.rules.yml",
    "operator": f"operator/{SERVICE}.yaml",
    "mimir": f"mimir/{SERVICE}.yaml",
    "thanos": f"thanos/{SERVICE}.rules.yml",
}
MAX_RULES = 7


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "out"
    result = run_cli(
        "generate", str(FIXTURES), "--out", str(out),
        "--format", "prometheus,operator", "--format", "mimir", "--format", "thanos",
        "--namespace", "observability", "--operator-label", "release=prometheus",
        "--mimir-max-rules", str(MAX_RULES), "--partial-response-strategy", "warn",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def load(out: Path, fmt: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((out / FILES[fmt]).read_text())
    return data


def rules_of(out: Path, fmt: str) -> list[dict[str, Any]]:
    return [r for g in formats.plain_groups(FILES[fmt], load(out, fmt)) for r in g["rules"]]


# Dashboards are written with every rule format (the promtool proofs with none: `promspec
# test` builds them).
ALWAYS = (
    f"grafana/{SERVICE}.json",
    "grafana/overview.json",
    "grafana/provisioning.yaml",
)


def test_writes_every_selected_format_and_only_those(out: Path) -> None:
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        [*FILES.values(), *ALWAYS]
    )


@pytest.mark.parametrize("fmt", ["operator", "mimir", "thanos"])
def test_every_format_carries_the_same_rules(out: Path, fmt: str) -> None:
    plain = rules_of(out, "prometheus")
    # The same specs as the golden files: every rule of the fixture, so no format may
    # pass by being empty.
    golden = yaml.safe_load((ROOT / "tests/golden/prometheus" / f"{SERVICE}.rules.yml").read_text())
    assert plain == [rule for group in golden["groups"] for rule in group["rules"]]
    assert rules_of(out, fmt) == plain


def test_operator_prometheusrule_shape(out: Path) -> None:
    obj = load(out, "operator")
    assert list(obj) == ["apiVersion", "kind", "metadata", "spec"]
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["kind"] == "PrometheusRule"
    assert obj["metadata"] == {
        "name": "promspec-checkout-api",
        "namespace": "observability",
        "labels": {
            "app.kubernetes.io/managed-by": "promspec",
            "promspec.dev/service": SERVICE,
            "release": "prometheus",
        },
    }
    assert obj["spec"]["groups"] == load(out, "prometheus")["groups"]


def test_mimir_namespace_shape_and_group_limit(out: Path) -> None:
    data = load(out, "mimir")
    assert list(data) == ["namespace", "groups"]
    assert data["namespace"] == SERVICE
    names = [g["name"] for g in data["groups"]]
    assert len(names) == len(set(names))
    assert all(1 <= len(g["rules"]) <= MAX_RULES for g in data["groups"])
    assert "promspec.checkout-api.slo-fast.1" in names
    plain = {g["name"]: g for g in load(out, "prometheus")["groups"]}
    for group in data["groups"]:
        base = group["name"] if group["name"] in plain else group["name"].rsplit(".", 1)[0]
        assert group.get("interval") == plain[base].get("interval")


def test_mimir_split_never_reads_a_series_recorded_in_a_later_part(out: Path) -> None:
    """Order is kept across parts: a rule only reads records of its own or earlier parts."""
    groups = load(out, "mimir")["groups"]
    checked = 0
    for i, group in enumerate(groups):
        later = [r for g in groups[i + 1 :] for r in g["rules"] if "record" in r]
        for rule in group["rules"]:
            for record in later:
                assert not formats._reads(rule, record), (group["name"], rule, record)
                checked += 1
    assert checked > 1000


def test_split_keeps_an_slo_whole_when_it_fits() -> None:
    """Two SLOs of 3 rules each (2 records + an alert on them), limit 4: one per part."""

    def slo(name: str) -> list[dict[str, Any]]:
        labels = {"slo": name}
        return [
            {"record": "a:x", "expr": "sum(rate(x[5m]))", "labels": labels},
            {"record": "a:y", "expr": f'a:x{{slo="{name}"}} * 2', "labels": labels},
            {"alert": f"Y{name}", "expr": f'a:y{{slo="{name}"}} > 1', "labels": labels},
        ]

    group = {"name": "g", "interval": "30s", "rules": slo("one") + slo("two")}
    parts = formats.split_groups([group], 4)
    assert [[r.get("record") or r["alert"] for r in p["rules"]] for p in parts] == [
        ["a:x", "a:y", "Yone"],
        ["a:x", "a:y", "Ytwo"],
    ]
    assert [p["name"] for p in parts] == ["g.1", "g.2"]
    # A run longer than the limit is cut in order: the alert lands after its records.
    cut = formats.split_groups([group], 2)
    assert [len(p["rules"]) for p in cut] == [2, 1, 2, 1]
    assert formats.split_groups([group], 6) == [group]


def test_thanos_groups_carry_the_partial_response_strategy(out: Path) -> None:
    groups = load(out, "thanos")["groups"]
    assert {g["partial_response_strategy"] for g in groups} == {"warn"}
    assert list(groups[0])[:3] == ["name", "interval", "partial_response_strategy"]


def test_promtool_accepts_plain_and_thanos_files_without_the_thanos_field(
    out: Path, tmp_path: Path
) -> None:
    """promtool 2.42 rejects partial_response_strategy (a Thanos-only field), so Thanos
    files are checked with that field removed; everything else is what promtool sees."""
    thanos = out / FILES["thanos"]
    rejected = subprocess.run(["promtool", "check", "rules", str(thanos)], capture_output=True,
                              text=True)  # fmt: skip
    assert rejected.returncode == 1
    assert "field partial_response_strategy not found" in rejected.stdout + rejected.stderr
    stripped = tmp_path / "thanos.rules.yml"
    stripped.write_text(
        yaml.safe_dump({"groups": formats.plain_groups("thanos/", load(out, "thanos"))})
    )
    result = subprocess.run(
        ["promtool", "check", "rules", str(stripped), str(out / FILES["prometheus"])],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_needs_the_same_formats(out: Path) -> None:
    same = run_cli(
        "check", str(FIXTURES), "--out", str(out), "--format", "prometheus,operator,mimir,thanos",
        "--namespace", "observability", "--operator-label", "release=prometheus",
        "--mimir-max-rules", str(MAX_RULES), "--partial-response-strategy", "warn",
    )  # fmt: skip
    assert same.returncode == 0, same.stderr
    default = run_cli("check", str(FIXTURES), "--out", str(out))
    assert default.returncode == 1
    assert f"extra:   {out}/operator/{SERVICE}.yaml" in default.stderr.splitlines()


def test_output_is_byte_identical_across_runs(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = run_cli(
        "generate", str(FIXTURES), "--out", str(again), "--no-promtool",
        "--format", "prometheus,operator,mimir,thanos", "--namespace", "observability",
        "--operator-label", "release=prometheus", "--mimir-max-rules", str(MAX_RULES),
        "--partial-response-strategy", "warn",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for rel in FILES.values():
        assert (again / rel).read_bytes() == (out / rel).read_bytes(), rel


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "grafana2"], "unknown format 'grafana2'"),
        (["--format", "operator", "--operator-name", "rules"], "needs a {service} placeholder"),
        (["--operator-label", "release"], "'release' is not KEY=VALUE"),
        (["--mimir-max-rules", "0"], "0 is not in the range x>=1"),
        (["--partial-response-strategy", "maybe"], "'maybe' is not one of 'abort', 'warn'"),
        (["--namespace", "Obs_NS"], "--namespace 'Obs_NS' is no Kubernetes namespace name"),
        (["--namespace", "a" * 64], "is no Kubernetes namespace name"),
    ],
)
def test_bad_format_options_are_usage_errors(args: list[str], message: str) -> None:
    result = run_cli("validate", str(FIXTURES), *args)
    assert result.returncode == 2
    assert message in result.stderr
