"""Speed: spec files built and services compiled on every core, and fewer garbage
collections.

Each spec file builds, and each service compiles, on its own (no stage reads another
service), so a run of several maps that work over forked worker processes. Results come
back in input order, so output and error messages are the same as in one process, byte
for byte.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many items, starting workers saves too little to be worth a fork: measured
# on 2 cores, 2 services compile in 0.9 s instead of 1.0 s, 4 in 0.9 s instead of 1.2 s.
MIN_PARALLEL_ITEMS = 4
JOBS_ENV = "PROMSPEC_JOBS"  # worker count; 1 compiles in this process
# Work is handed out in chunks of items, about this many per worker: a chunk costs a
# message each way (~0.1 ms), and a worker that finishes first idles ~half of one.
CHUNKS_PER_WORKER = 64

# What the forked workers run: set before the pool starts, inherited through fork(),
# so neither the function nor the items are ever pickled (only the results are).
_task: Callable[[Any], Any] | None = None
_items: Sequence[Any] = ()


def jobs(items: int) -> int:
    """Workers for `items` items; one below MIN_PARALLEL_ITEMS."""
    if JOBS_ENV in os.environ:
        return max(1, int(os.environ[JOBS_ENV]))
    if items < MIN_PARALLEL_ITEMS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(len(os.sched_getaffinity(0)), 8)


def _run(index: int) -> Any:
    assert _task is not None
    return _quietly(_task, _items[index])


def _quietly(task: Callable[[T], R], item: T) -> R:
    """task(item) without the collector: one item's work allocates a million short-lived
    containers, nearly all freed by their reference counts, which the collector scanned
    every 20,000 allocations while they were alive (~12% of a service's compile). Its
    few reference cycles are collected once after, with the young generation; so a
    worker never scans what it inherited from the parent (the built services)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return task(item)
    finally:
        if collecting:
            gc.enable()
            gc.collect(0)


@contextlib.contextmanager
def ordered(task: Callable[[T], R], items: Sequence[T]) -> Iterator[Iterator[R]]:
    """task(item) for each item, in input order as they come, on several cores from
    MIN_PARALLEL_ITEMS items. Leaving the block stops the workers: a caller that stops
    reading early (the run has failed) does not wait for the rest. The results are
    kept for the run (see kept_for_the_run).

    `task` must not raise for a user's mistake: return the problems as a value (only the
    results cross the process boundary)."""
    global _task, _items
    _task, _items = task, items
    try:
        count = min(jobs(len(items)), len(items))
        pool = _pool(count)
        if pool is None:
            yield (_quietly(task, item) for item in items)
            return
        # The results are unpickled here as they come: millions of objects that stay.
        with pool, kept_for_the_run():
            # Small chunks keep both cores busy to the end (at the end one core waits
            # for the other's last chunk: 1,000 services in chunks of 62 left it idle
            # about 1 s on average: ~2 s of work each); imap keeps input order.
            chunk = max(1, len(items) // (count * CHUNKS_PER_WORKER))
            yield pool.imap(_run, range(len(items)), chunksize=chunk)
    finally:
        _task, _items = None, ()


def _pool(count: int) -> Any:
    """`count` forked workers (they inherit _task and _items), or None for this process."""
    if count <= 1:
        return None
    try:
        return multiprocessing.get_context("fork").Pool(count)
    except (OSError, ImportError):
        # No process semaphores here (a container without /dev/shm, a sandbox that
        # forbids them): the same results, in this process.
        return None


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Collect garbage rarely during a run.

    A run allocates millions of short-lived containers (YAML nodes, rule data) while the
    built services stay alive; with the default thresholds the collector rescans those
    again and again, which made 1,000 services cost 60% more per service than 100.
    Objects alive at the start (imported modules) are frozen out of collection, and the
    young generation is collected every 20,000 allocations instead of every 700."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


@contextlib.contextmanager
def kept_for_the_run() -> Iterator[None]:
    """For objects built to stay alive to the end of a run (the spec cache's entries):
    no collection while building them (there is no garbage among them, only more to
    rescan), then frozen out of later collections. Used inside few_collections, whose
    end unfreezes them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
