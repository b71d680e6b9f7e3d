"""Stage 7: replace the output directory as a whole, atomically.

The new tree is written beside out/ and swapped in with one rename (Linux
renameat2(RENAME_EXCHANGE)), so a reader or a killed run sees either the old tree or
the new one, never a mix. A lock file serialises concurrent runs on the same out/.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from generator.inputs import tree_files

RENAME_EXCHANGE = 2
FSYNC_THREADS = 16
_AT_FDCWD = -100


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    lock_path = out.parent / f".{out.name}.promspec-lock"
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_tree(root: Path) -> dict[str, bytes]:
    return {rel: p.read_bytes() for rel, p in tree_files(root)}


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step; False where the kernel or libc cannot."""
    import ctypes  # here, not at the top: `generate` with nothing to do never swaps
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fill(root: Path, files: dict[str, bytes]) -> None:
    """Write every file and wait until it is on disk (before the swap makes it visible).

    fsync waits for the disk, not the CPU: one file after the other, 1,000 files took
    several seconds; from many threads the file system commits them together."""
    from concurrent.futures import ThreadPoolExecutor

    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
        list(
            pool.map(
                _write_durably,
                [root / rel for rel in sorted(files)],
                [files[rel] for rel in sorted(files)],
            )
        )


def _write_durably(target: Path, content: bytes) -> None:
    with open(target, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _pause_for_tests() -> None:
    """Tests kill a run here, between a complete staging tree and the swap."""
    delay = os.environ.get("PROMSPEC_TEST_SWAP_DELAY")
    if delay:
        time.sleep(float(delay))


def write_tree(out: Path, files: dict[str, bytes]) -> bool:
    """Make out/ hold exactly `files`; False when it already did (nothing touched)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked(out):
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"{out} exists and is not a directory")
        if read_tree(out) == files:
            return False
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.promspec-new-", dir=out.parent))
        try:
            _fill(staging, files)
            staging.chmod(0o755)
            _pause_for_tests()
            if not out.exists():
                staging.rename(out)
            elif not _exchange(staging, out):
                # Without an atomic exchange: the shortest window we can get.
                old = staging.with_name(staging.name + "-old")
                out.rename(old)
                staging.rename(out)
                staging = old
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return True
