"""Large runs compile on several cores; what they produce must not depend on it."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, run_cli, tree_hashes

from generator import formats, parallel, pipeline, proofs, render, rulesim, scenarios

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
        # per service: rules and dashboard; plus overview and provisioning
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
    assert parallel.map_ordered(lambda i: (i, os.getpid()), items) == [
        (i, os.getpid()) for i in items
    ]


def test_a_run_on_several_cores_first_learns_the_first_services_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Computed once, a part per core, and brought back before the workers start: without
    # it each worker would compute them itself, and (no spec cache here) keep them.
    for module, names in ((scenarios, ("_LOOKUPS", "_RECIPES")), (rulesim, ("_RUNS", "_SOLVED"))):
        for name in names:
            monkeypatch.setattr(module, name, {})
    mapped: list[list[Any]] = []
    map_ordered = parallel.map_ordered

    def recording(task: Any, items: Any, *args: Any, **kwargs: Any) -> Any:
        mapped.append(list(items))
        return map_ordered(task, items, *args, **kwargs)

    monkeypatch.setattr(parallel, "map_ordered", recording)
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    specs = many_specs(tmp_path)
    pipeline.compile_specs([specs], use_promtool=False, proofs=True)
    assert mapped[0] == list(proofs.PARTS)
    assert all(scenarios.memo()) and all(rulesim.memo())
    # A process that knows shapes already (here from the run above; as after the spec
    # cache restored its memo) goes straight to work.
    mapped.clear()
    pipeline.compile_specs([specs], use_promtool=False, proofs=True)
    assert len(mapped) == 1 and len(mapped[0]) == SERVICES


MEMOS = ((scenarios, ("_LOOKUPS", "_RECIPES")), (rulesim, ("_RUNS", "_SOLVED")))


@pytest.mark.parametrize("grafana_url", ["", "https://grafana.example.com/"])
def test_learning_teaches_what_compiling_the_service_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grafana_url: str
) -> None:
    # The learners skip the dashboard unless alerts link to it; the workers must then
    # find every shape they look up (a miss would compute it again in each of them).
    specs = many_specs(tmp_path)
    if grafana_url:
        with (specs / "_defaults.yaml").open("a") as f:
            f.write(f"grafana_url: {grafana_url}\n")
    service = pipeline.build_services([specs])[0]
    assert service.grafana_url == grafana_url
    env = render.environment()

    def learnt(work: Any) -> list[list[str]]:
        for module, names in MEMOS:
            for name in names:
                monkeypatch.setattr(module, name, {})
        work()
        return [sorted(map(repr, getattr(m, n))) for m, names in MEMOS for n in names]

    by_learning = learnt(lambda: [pipeline._learn(env, service, p) for p in proofs.PARTS])
    by_compiling = learnt(
        lambda: pipeline._compile_service(env, service, formats.Options(), with_proofs=True)
    )
    assert by_learning == by_compiling
    assert all(by_learning)
