"""Every example in docs/spec.md compiles and passes promtool: the docs cannot drift."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from generator import pipeline

BLOCKS = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "spec.md").read_text(), re.S)
SPECS = [b for b in BLOCKS if "\nservice:" in b]
DEFAULTS = [b for b in BLOCKS if "kind: defaults" in b]


def test_the_page_has_an_example_per_feature() -> None:
    text = "\n".join(SPECS)
    for feature in (
        "errors:",
        "good:",
        "latency:",
        "gauge:",
        "group_by:",
        "alerting:",
        "min_traffic:",
        "min_failed_events:",
        "quantile:",
        "direction: below",
        "capacity:",
        "exhaustion:",
        "headroom: false",
        "critical: {percent:",
        "- {within:",
        "freshness:",
        "expiry:",
        "absence:",
        "use: cpu",
        "tier:",
        "selector:",
        "labels:",
    ):
        assert feature in text, feature
    assert len(DEFAULTS) == 1


@pytest.mark.parametrize("index", range(len(SPECS)))
def test_example_compiles_and_promtool_accepts_it(index: int, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "example.yaml").write_text(SPECS[index])
    (specs / "_defaults.yaml").write_text(DEFAULTS[0])
    result = pipeline.compile_specs([specs], use_promtool=False)
    files = []
    for rel, content in result.files.items():
        path = tmp_path / "out" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if rel.endswith(".rules.yml"):
            files.append(str(path))
    check = subprocess.run(["promtool", "check", "rules", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_capacity_example_is_proven_level_by_level(tmp_path: Path) -> None:
    """Every floor and exhaustion level of the capacity example, each with its own `for`,
    is proven by promtool, nothing left unproven."""
    (example,) = [b for b in SPECS if "\ncapacity:" in b]
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "storage.yaml").write_text(example)
    (specs / "_defaults.yaml").write_text(DEFAULTS[0])
    proofs = tmp_path / "proofs"
    result = run_cli("test", str(specs), "--write-proofs", str(proofs))
    assert result.returncode == 0, result.stdout + result.stderr
    text = (proofs / "tests" / "storage.test.yml").read_text()
    assert "Not proven" not in text
    for name in (
        "connections headroom warning: 0.2375, just below the level of 0.25, "
        "fires after 10 minutes",
        "connections headroom critical: 0.095, just below the level of 0.1, fires after 2 minutes",
        "data_volume exhaustion warning: predicted 105% of the limit, fires after 10 minutes",
        "data_volume exhaustion critical: predicted 105% of the limit, fires after 5 minutes",
        "data_volume exhaustion critical: predicted 95% of the limit, does not fire",
    ):
        assert f"- name: '{name}'\n" in text, name
