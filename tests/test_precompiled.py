"""The package templates run from the code Jinja generated for them (generator/precompiled)
while it is current, and from their source otherwise: same output either way."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from conftest import ROOT

from generator import plan, precompiled, render
from generator.pipeline import build_services
from generator.precompiled import __main__ as writer
from generator.precompiled import index

FOLDER = ROOT / "generator" / "precompiled"
NAMES = sorted(p.name for p in (ROOT / "templates").glob("*.j2"))
FROM_SOURCE = "<template>"  # what Jinja names a template it compiled from a string


def test_every_template_has_a_current_module() -> None:
    """Whatever Jinja runs the suite: the templates have not changed since the modules
    were written (when this fails: make templates)."""
    env = render.environment()
    assert sorted(index.FINGERPRINTS) == NAMES
    for name in NAMES:
        source = (ROOT / "templates" / name).read_text("utf-8")
        assert index.FINGERPRINTS[name] == precompiled.fingerprint(
            env, name, source, index.JINJA
        ), f"generator/precompiled is stale for templates/{name}: run make templates"
        assert (FOLDER / f"{precompiled.module_name(name)}.py").is_file()


@pytest.mark.skipif(jinja2.__version__ != index.JINJA, reason="another Jinja writes other code")
def test_modules_are_what_jinja_writes_now(tmp_path: Path) -> None:
    written = writer.write(tmp_path)
    assert written == NAMES
    for made in sorted(tmp_path.iterdir()):
        assert made.read_text() == (FOLDER / made.name).read_text(), made.name


def origins() -> dict[str, str | None]:
    env = render.environment()
    return {name: env.get_template(name).filename for name in NAMES}


def test_current_modules_are_used_and_stale_ones_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    used = jinja2.__version__ == index.JINJA  # another Jinja: all compiled from source
    for name, filename in origins().items():
        module = str(FOLDER / f"{precompiled.module_name(name)}.py")
        assert filename == (module if used else FROM_SOURCE), name
    monkeypatch.setitem(index.FINGERPRINTS, "rules_slo.yml.j2", "stale")
    assert origins()["rules_slo.yml.j2"] == FROM_SOURCE
    assert origins()["macros.j2"] == (str(FOLDER / "macros_j2.py") if used else FROM_SOURCE)


def test_the_sandbox_compiles_from_source(tmp_path: Path) -> None:
    """With user templates, ours run in the sandbox too, compiled for it."""
    env = render.environment(tmp_path)
    assert env.get_template("rules.yml.j2").filename == FROM_SOURCE


def test_same_rules_from_code_and_from_source(monkeypatch: pytest.MonkeyPatch) -> None:
    services = build_services([ROOT / "specs"])
    planned = [(s, plan.plan_service(s)[0]) for s in services]
    from_code = [render.render_rules(render.environment(), s, p) for s, p in planned]
    monkeypatch.setattr(index, "FINGERPRINTS", {})
    from_source = [render.render_rules(render.environment(), s, p) for s, p in planned]
    assert from_code == from_source
    assert len(from_code) == len(services) > 10
