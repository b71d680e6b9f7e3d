"""The per-spec-file cache (generator/outputs/spec_cache.py): a run compiles only the spec files
that changed, and its output is byte for byte what a full compile writes.

Which services a run compiled is read off `Result.compiled` (it covers only those);
through the CLI, every output is compared with a `--no-cache` run of the same inputs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli, tree_hashes

from generator import pipeline
from generator.errors import SpecError, ToolError
from generator.outputs import cache, check, spec_cache, write
from generator.spec.inputs import find_defaults

sys.path.insert(0, str(ROOT / "bench"))
from synth import service_name, write_specs

SERVICES = 3


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_specs(tmp_path, SERVICES)
    monkeypatch.chdir(tmp_path)  # output headers name specs relative to cwd
    return tmp_path


def spec(project: Path, i: int) -> Path:
    return project / "specs" / f"{service_name(i)}.yaml"


def reuse(project: Path, *, take_from: Path | None = None, promtool: str | None = None) -> Any:
    environment = cache.environment_key(
        out=project / "out", templates=None, alertmanager=None, flags={}
    )
    return spec_cache.SpecCache(
        project / cache.DEFAULT_DIR, environment, out=take_from, promtool=promtool
    )


def compile_with(project: Path, **kwargs: Any) -> pipeline.Result:
    return pipeline.compile_specs(
        [project / "specs"], out=project / "out", use_promtool=False, reuse=reuse(project, **kwargs)
    )


def owners(paths: Any) -> set[str]:
    """The services (or fleet files) paths under out/ belong to."""
    return {rel.split("/")[1].split(".")[0] for rel in paths}


def compiled(result: pipeline.Result) -> list[str]:
    return result.compiled


def test_only_the_changed_spec_file_is_compiled_and_the_output_is_the_same(
    project: Path,
) -> None:
    assert len(compiled(compile_with(project))) == SERVICES
    assert compiled(compile_with(project)) == []
    text = spec(project, 1).read_text().replace("critical: 900", "critical: 800")
    spec(project, 1).write_text(text)
    result = compile_with(project)
    assert compiled(result) == [service_name(1)]
    # The entries taken as they were are not read back into services and plans: the
    # overview, advice and counts come from what each entry keeps beside them.
    taken = [f.hit.entry for f in result.units if f.hit is not None]
    assert len(taken) == SERVICES - 1
    assert not any("_loaded" in entry.__dict__ for entry in taken)
    full = pipeline.compile_specs([project / "specs"], out=project / "out", use_promtool=False)
    assert result.digests() == full.digests()
    assert result.warnings == full.warnings
    assert result.plans == full.plans
    assert [s.name for s in result.services] == [s.name for s in full.services]


def test_an_entry_holds_each_slo_once_when_its_spec_compiled_in_a_worker(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker sends back plans holding equal copies of the service's SLOs; an entry
    that kept them held every SLO twice (a third of what a reused spec costs to read)."""
    monkeypatch.setenv("PROMSPEC_JOBS", "2")
    result = compile_with(project)
    assert len(compiled(result)) == SERVICES
    again = reuse(project)
    for i in range(SERVICES):
        _, hit = again.lookup(spec(project, i), find_defaults(spec(project, i), project / "specs"))
        assert hit is not None
        for service in hit.entry.services:
            plans = hit.entry.plans[service.name]
            assert [p.slo for p in plans] == list(service.slos)
            assert all(p.slo is slo for p, slo in zip(plans, service.slos, strict=True))
            own = [t for slo in service.slos for t in slo.alerting.tiers]
            assert all(any(t.tier is o for o in own) for p in plans for t in p.tiers)


def test_a_changed_defaults_file_compiles_every_spec_that_uses_it(project: Path) -> None:
    compile_with(project)
    defaults = project / "specs" / "_defaults.yaml"
    defaults.write_text(defaults.read_text() + "\n# a comment changes the bytes\n")
    assert len(compiled(compile_with(project))) == SERVICES


def test_generate_takes_a_file_from_out_only_when_out_holds_its_exact_bytes(
    project: Path,
) -> None:
    full = compile_with(project, take_from=project / "out")
    for rel, content in full.files.items():
        (project / "out" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "out" / rel).write_bytes(content)
    again = compile_with(project, take_from=project / "out")
    assert compiled(again) == [] and again.digests() == full.digests()
    # Every service's file is kept in out/, not read into the run: only the fleet's are new.
    assert owners(again.kept) == {service_name(i) for i in range(SERVICES)}
    assert sorted(again.kept) == sorted(again.reused) == sorted(set(full.files) - set(again.files))
    assert owners(again.files) == {"overview", "provisioning"}
    edited = project / "out" / "grafana" / f"{service_name(2)}.json"
    edited.write_text(edited.read_text() + " ")
    (project / "out" / "prometheus" / f"{service_name(0)}.rules.yml").unlink()
    repaired = compile_with(project, take_from=project / "out")
    assert compiled(repaired) == [service_name(0), service_name(2)]
    assert repaired.digests() == full.digests()
    assert owners(repaired.kept) == {service_name(1)}


def test_an_entry_promtool_did_not_accept_has_its_rules_checked_from_out(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check` stores entries without a promtool verdict; the next `generate` checks
    their rule files from out/ instead of compiling, and stores the verdict."""
    if check.promtool() is None:
        pytest.skip("promtool is not installed (make test-setup installs it)")
    identity = cache.promtool_identity()
    out = project / "out"
    full = compile_with(project)  # as `check` does: no promtool verdict stored
    # Without out/ to check the rules from, such an entry is compiled again.
    assert len(compiled(compile_with(project, promtool=identity))) == SERVICES
    for rel, content in full.files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(content)
    compile_with(project)  # entries without a verdict again
    checked: list[list[str]] = []
    real = check.check_rules
    monkeypatch.setattr(
        check, "check_rules", lambda paths: checked.append([p.name for p in paths]) or real(paths)
    )

    def generate() -> pipeline.Result:
        return pipeline.compile_specs(
            [project / "specs"], out=out, reuse=reuse(project, take_from=out, promtool=identity)
        )

    first = generate()
    assert compiled(first) == [] and first.promtool_checked
    assert first.digests() == full.digests()
    assert [sorted(c) for c in checked] == [
        sorted(f"{service_name(i)}.rules.yml" for i in range(SERVICES))
    ]
    second = generate()  # the verdict was stored: nothing left to check
    assert compiled(second) == [] and second.promtool_checked and len(checked) == 1


def test_promtool_runs_on_the_compiled_files_only(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if check.promtool() is None:
        pytest.skip("promtool is not installed (make test-setup installs it)")
    identity = cache.promtool_identity()
    first = pipeline.compile_specs(
        [project / "specs"], out=project / "out", reuse=reuse(project, promtool=identity)
    )
    assert first.promtool_checked and len(compiled(first)) == SERVICES
    checked: list[list[str]] = []
    real = check.check_rules
    monkeypatch.setattr(
        check, "check_rules", lambda paths: checked.append([p.name for p in paths]) or real(paths)
    )
    spec(project, 0).write_text(spec(project, 0).read_text() + "\n# changed\n")
    second = pipeline.compile_specs(
        [project / "specs"], out=project / "out", reuse=reuse(project, promtool=identity)
    )
    assert second.promtool_checked and compiled(second) == [service_name(0)]
    assert checked == [[f"{service_name(0)}.rules.yml"]]


def test_problems_across_files_are_found_with_cached_files_too(project: Path) -> None:
    compile_with(project)
    copy = project / "specs" / "zz-copy.yaml"
    shutil.copy(spec(project, 0), copy)
    with pytest.raises(SpecError) as raised:
        compile_with(project)
    [problem] = raised.value.problems
    assert problem.file.endswith("zz-copy.yaml")
    assert f"service '{service_name(0)}' is also defined in" in problem.message
    copy.unlink()
    spec(project, 2).write_text(
        spec(project, 2).read_text().replace("objective: 99", "objective: 101")
    )
    with pytest.raises(SpecError) as raised:
        compile_with(project)
    # Three objectives of that file over 100; no other file is named.
    assert [p.file for p in raised.value.problems] == [f"specs/{service_name(2)}.yaml"] * 3


def test_a_corrupt_or_foreign_entry_is_a_miss(project: Path) -> None:
    compile_with(project)
    folder = project / cache.DEFAULT_DIR / spec_cache.FOLDER
    entries = sorted(p for p in folder.glob("*.entry") if not p.name.startswith("memo-"))
    assert len(entries) == SERVICES
    entries[0].write_bytes(entries[0].read_bytes()[:-1])  # truncated
    entries[1].write_bytes(b"promspec-spec-cache 0\nnot a pickle")
    assert len(compiled(compile_with(project))) == 2
    assert compiled(compile_with(project)) == []


def test_generate_and_check_through_the_cli_match_a_run_without_cache(project: Path) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    spec(project, 1).write_text(
        spec(project, 1).read_text().replace("warning: 1000", "warning: 900")
    )
    stale = run_cli("check", cwd=project)
    assert stale.returncode == 1
    assert f"changed: out/prometheus/{service_name(1)}.rules.yml\n" in stale.stderr
    uncached = run_cli("check", "--no-cache", cwd=project)
    assert (stale.returncode, stale.stdout, stale.stderr) == (
        uncached.returncode,
        uncached.stdout,
        uncached.stderr,
    )
    written = run_cli("generate", "--no-promtool", cwd=project)
    assert written.returncode == 0, written.stderr
    with_cache = tree_hashes(project / "out")
    shutil.rmtree(project / "out")
    assert run_cli("generate", "--no-promtool", "--no-cache", cwd=project).returncode == 0
    assert tree_hashes(project / "out") == with_cache
    assert run_cli("check", cwd=project).returncode == 0


def test_fleet_files_cover_every_service_when_one_spec_compiled(project: Path) -> None:
    flags = ("--no-promtool", "--format", "prometheus,alertmanager")
    assert run_cli("generate", *flags, cwd=project).returncode == 0
    spec(project, 2).write_text(spec(project, 2).read_text() + "\n# changed\n")
    assert run_cli("generate", *flags, cwd=project).returncode == 0
    routes = (project / "out" / "alertmanager" / "routes.yml").read_text()
    for i in range(SERVICES):  # routes go by team: service i is team-i's (bench/synth.py)
        assert f"- name: team-{i}-pager\n" in routes
    with_cache = tree_hashes(project / "out")  # the fleet dashboard too
    shutil.rmtree(project / "out")
    assert run_cli("generate", *flags, "--no-cache", cwd=project).returncode == 0
    assert tree_hashes(project / "out") == with_cache


def test_files_out_already_holds_are_linked_into_the_new_tree_not_rewritten(
    project: Path,
) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    out = project / "out"
    before = {p: p.stat().st_ino for p in out.rglob("*") if p.is_file()}
    spec(project, 1).write_text(
        spec(project, 1).read_text().replace("critical: 900", "critical: 800")
    )
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    after = {p: p.stat() for p in out.rglob("*") if p.is_file()}
    assert after.keys() == before.keys()
    kept = {p.relative_to(out).as_posix() for p in after if after[p].st_ino == before[p]}
    rewritten = {p.relative_to(out).as_posix() for p in after} - kept
    name = service_name(1)
    # The changed service's rules and dashboard (its alert thresholds) are new; the fleet
    # dashboard, compiled again but the same bytes, is linked too.
    assert rewritten == {f"prometheus/{name}.rules.yml", f"grafana/{name}.json"}
    assert "grafana/overview.json" in kept
    assert all(s.st_nlink == 1 for s in after.values())  # the old tree is gone
    assert not [p for p in project.iterdir() if "promspec-new" in p.name]


def one_changed_from_out(project: Path) -> pipeline.Result:
    """out/ written from a compile, then the first spec changed and compiled again,
    the others kept from out/ (not yet written)."""
    out = project / "out"
    first = compile_with(project, take_from=out)
    assert write.write_tree(out, first.files, first.kept)
    text = spec(project, 0).read_text().replace("critical: 900", "critical: 800")
    spec(project, 0).write_text(text)
    result = compile_with(project, take_from=out)
    assert compiled(result) == [service_name(0)]
    return result


def test_a_kept_file_edited_during_the_run_stops_the_write(project: Path) -> None:
    out = project / "out"
    result = one_changed_from_out(project)
    edited = out / "grafana" / f"{service_name(1)}.json"
    edited.write_text(edited.read_text() + " ")  # after the lookup read it, before the write
    before = tree_hashes(out)
    with pytest.raises(ToolError, match=r"svc-0001\.json changed while promspec ran"):
        write.write_tree(out, result.files, result.kept)
    assert tree_hashes(out) == before  # nothing written
    assert not [p for p in project.iterdir() if "promspec-new" in p.name]


def test_kept_files_are_copied_where_they_cannot_be_linked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "out"
    result = one_changed_from_out(project)
    monkeypatch.setattr(write, "_link", lambda source, target: False)
    assert write.write_tree(out, result.files, result.kept)
    assert tree_hashes(out) == result.digests()
    assert all(p.stat().st_nlink == 1 for p in out.rglob("*") if p.is_file())


def test_the_run_limit_counts_cached_files_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_with(project)
    per_service = 12  # 4 SLOs, 6 thresholds, 2 capacity checks (bench/synth.py)
    monkeypatch.setattr(pipeline, "MAX_ITEMS_PER_RUN", 2 * per_service + 1)
    with pytest.raises(SpecError) as raised:
        compile_with(project)  # every file from the cache
    [problem] = raised.value.problems
    assert (problem.file, problem.line) == (f"specs/{service_name(2)}.yaml", 1)
    assert f"ask for {3 * per_service} SLOs and checks, over the limit of" in problem.message
