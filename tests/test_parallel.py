"""Large runs compile on several cores; what they produce must not depend on it."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli, tree_hashes

from generator import parallel

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
    assert parallel.map_ordered(lambda i: (i, os.getpid()), items) == [
        (i, os.getpid()) for i in items
    ]
