"""Every example in docs/spec.md compiles and passes promtool: the docs cannot drift."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

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
        "quantile:",
        "direction: below",
        "capacity:",
        "exhaustion:",
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
