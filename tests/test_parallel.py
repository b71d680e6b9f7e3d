"""Large runs compile on several cores; what they produce must not depend on it."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli, tree_hashes

from generator import parallel, pipeline
from generator.errors import Problem, SpecError

sys.path.insert(0, str(ROOT / "bench"))
from synth import service_name, write_specs

SERVICES = parallel.MIN_PARALLEL_ITEMS + 5


def many_specs(tmp_path: Path, broken: tuple[int, ...] = ()) -> Path:
    """The fixture service under many names; `broken` ones get an unknown key."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(FIXTURES / "_defaults.yaml", specs)
    text = (FIXTURES / "checkout-api.yaml").read_text()
    for i in range(SERVICES):
        body = text.replace("service: checkout-api", f"service: checkout-{i:02d}")
        if i in broken:
            body += "tresholds: []\n"
        (specs / f"checkout-{i:02d}.yaml").write_text(body)
    return specs


def test_output_is_the_same_on_one_core_and_on_many(tmp_path: Path) -> None:
    many_specs(tmp_path)
    outs = {}
    for jobs in ("1", "2", "3"):
        result = run_cli(
            "generate", "specs", "--out", f"out-{jobs}", cwd=tmp_path, env={parallel.JOBS_ENV: jobs}
        )
        assert result.returncode == 0, result.stderr
        # per service: rules and dashboard (the proofs are promspec test's); plus overview
        # and provisioning
        assert f"{SERVICES} services, {2 * SERVICES + 2} files written" in result.stdout
        outs[jobs] = tree_hashes(tmp_path / f"out-{jobs}")
    assert len(outs["1"]) == 2 * SERVICES + 2
    assert outs["1"] == outs["2"] == outs["3"]


def test_default_run_of_many_services_is_parallel_and_still_current(tmp_path: Path) -> None:
    assert parallel.jobs(SERVICES) == min(len(os.sched_getaffinity(0)), 8)
    many_specs(tmp_path)
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    # --no-cache: compile again on one core (a cache hit would only repeat generate's hashes)
    check = run_cli("check", "--no-cache", cwd=tmp_path, env={parallel.JOBS_ENV: "1"})
    assert check.returncode == 0, check.stderr


def test_errors_are_the_same_on_one_core_and_on_many(tmp_path: Path) -> None:
    many_specs(tmp_path, broken=(0, 3, SERVICES - 1))
    results = [
        run_cli("generate", "specs", cwd=tmp_path, env={parallel.JOBS_ENV: jobs})
        for jobs in ("1", "2")
    ]
    assert [r.returncode for r in results] == [1, 1]
    assert results[0].stderr == results[1].stderr
    assert results[0].stderr.count("unknown key 'tresholds'") == 3
    assert not (tmp_path / "out").exists()


def test_without_process_semaphores_the_work_runs_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a container without /dev/shm: creating the pool fails with ENOSYS.
    class NoSemaphores:
        def Pool(self, processes: int) -> None:
            raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: NoSemaphores())
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    items = list(range(SERVICES))
    with parallel.ordered(lambda i: (i, os.getpid()), items) as results:
        assert list(results) == [(i, os.getpid()) for i in items]


def all_bad_specs(tmp_path: Path, *, stopping: bool) -> Path:
    """Every case of tests/bad_specs in one directory (those needing --templates left
    out); `stopping`: with the cases that stop the run at once (PromQL too complex)."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "tests" / "bad_specs", specs)
    (specs / "expected.json").unlink()
    for case in specs.glob("template-*"):
        shutil.rmtree(case)
    if not stopping:
        for case in specs.glob("promql-too-*"):
            case.unlink()
    return specs


def test_build_problems_are_the_same_on_one_core_and_on_many(tmp_path: Path) -> None:
    # Files that do not load, bad defaults files used by several specs, schema and model
    # problems, a service defined twice: built in workers, reported in one list.
    all_bad_specs(tmp_path, stopping=False)
    results = [
        run_cli("validate", "specs", cwd=tmp_path, env={parallel.JOBS_ENV: jobs})
        for jobs in ("1", "2")
    ]
    assert [r.returncode for r in results] == [1, 1]
    assert results[0].stderr == results[1].stderr
    errors = [line for line in results[1].stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) > 50, results[1].stderr
    assert "Traceback" not in results[1].stderr
    assert any("is also defined in" in line for line in errors)
    assert any("_defaults.yaml" in line for line in errors)


def test_a_problem_that_stops_the_run_stops_it_the_same_on_many_cores(tmp_path: Path) -> None:
    # An expression too complex to print stops the run at its spec file, with that one
    # problem: raised in a worker, it must reach the parent whole and in its turn.
    all_bad_specs(tmp_path, stopping=True)
    results = [
        run_cli("validate", "specs", cwd=tmp_path, env={parallel.JOBS_ENV: jobs})
        for jobs in ("1", "2")
    ]
    assert results[0].stderr == results[1].stderr
    first, last = results[1].stderr.splitlines()
    assert "promql-too-deep.yaml:7:11: thresholds[0].expr: the expression nests" in first
    assert last == "promspec: 1 problem; nothing was written"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_run_limit_stops_at_the_same_document_on_many_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    specs = write_specs(tmp_path, SERVICES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(parallel.JOBS_ENV, jobs)
    per_service = 12  # 4 SLOs, 6 thresholds, 2 capacity checks (bench/synth.py)
    monkeypatch.setattr(pipeline, "MAX_ITEMS_PER_RUN", 5 * per_service + 1)
    with pytest.raises(SpecError) as raised:
        pipeline.compile_specs([specs], use_promtool=False)
    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.column) == (f"specs/{service_name(5)}.yaml", 1, 1)
    assert f"ask for {6 * per_service} SLOs and checks, over the limit of" in problem.message


def test_leaving_early_stops_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    items = list(range(SERVICES))
    with parallel.ordered(lambda i: (i, os.getpid()), items) as results:
        first, worker = next(results)
        assert (first, worker != os.getpid()) == (0, True)
    assert multiprocessing.active_children() == []


def test_cache_hits_and_files_built_in_workers_keep_their_order(tmp_path: Path) -> None:
    many_specs(tmp_path)
    assert run_cli("generate", "specs", cwd=tmp_path).returncode == 0
    # More changed files than MIN_PARALLEL_ITEMS (built in workers) between cache hits.
    for i in range(0, SERVICES, 2):
        path = tmp_path / "specs" / f"checkout-{i:02d}.yaml"
        text = path.read_text()
        assert "critical: 15m" in text
        path.write_text(text.replace("critical: 15m", "critical: 20m"))
    assert run_cli("generate", "specs", cwd=tmp_path).returncode == 0
    cold = run_cli("generate", "specs", "--no-cache", "--out", "cold", cwd=tmp_path)
    assert cold.returncode == 0, cold.stderr
    assert tree_hashes(tmp_path / "out") == tree_hashes(tmp_path / "cold")


def test_a_spec_error_crosses_the_process_boundary_whole() -> None:
    error = SpecError([Problem("b.yaml", 2, 1, "slos", "two"), Problem("a.yaml", 1, 1, "", "one")])
    back = pickle.loads(pickle.dumps(error))
    assert (back.problems, str(back)) == (error.problems, str(error))
