"""One broken spec per class of mistake: exact one-line error, exit 1, out/ untouched.

tests/bad_specs/expected.json holds the exact first error line for every case there. A
case is a file, or a directory for mistakes that need several files (specs, a
_defaults.yaml, and templates/ which is passed as --templates).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, tree_hashes

BAD = ROOT / "tests" / "bad_specs"
EXPECTED: dict[str, str] = json.loads((BAD / "expected.json").read_text())
CASES = sorted(p.name for p in BAD.iterdir() if p.suffix in (".yaml", ".yml") or p.is_dir())


def test_every_bad_spec_has_an_expected_message() -> None:
    assert sorted(EXPECTED) == CASES


@pytest.mark.parametrize("name", CASES)
def test_bad_spec_fails_cleanly(name: str, tmp_path: Path) -> None:
    case = BAD / name
    args = [name]
    if case.is_dir():
        shutil.copytree(case, tmp_path / name)
        if (case / "templates").is_dir():
            args += ["--templates", f"{name}/templates"]
    else:
        shutil.copy(case, tmp_path / name)
    out = tmp_path / "out"
    (out / "prometheus").mkdir(parents=True)
    (out / "prometheus" / "old.rules.yml").write_text("groups: []\n")
    before = tree_hashes(out)

    result = run_cli("generate", *args, "--out", "out", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == EXPECTED[name]
    assert lines[-1].endswith("nothing was written")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.stdout == ""
    assert tree_hashes(out) == before
