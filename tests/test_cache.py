"""The cache of `check` and `generate` (generator/outputs/cache.py), through the real CLI.

A hit is proven, not assumed: those runs get a `sitecustomize` that makes importing the
compiler (generator.pipeline) and its libraries fail, so a run that compiled would exit 3
with an internal error. Every hit must say exactly what a full compile says.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli, tree_hashes

from generator import conventions
from generator.outputs import cache
from generator.rules import formats

SPEC = "checkout-api.yaml"
RULES = "out/prometheus/checkout-api.rules.yml"
# What a hit must never import: the compiler and everything heavy behind it.
HEAVY = ("generator.pipeline", "jinja2", "jsonschema", "grafana_foundation_sdk", "yaml")
BLOCKER = f"""
import sys
import time

class _NoCompiler:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r} or name in {HEAVY!r}:
            raise ImportError("the compiler was imported on a cache hit: " + name)
        return None

sys.meta_path.insert(0, _NoCompiler())
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "specs")
    return tmp_path


@pytest.fixture
def no_compiler(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a run that must not compile (it exits 3 if it tries)."""
    folder = tmp_path_factory.mktemp("no-compiler")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return {"PYTHONPATH": str(folder)}


def outcome(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


def entries(project: Path) -> list[Path]:
    return sorted((project / cache.DEFAULT_DIR / cache.ENTRIES).glob("*.json"))


def test_blocker_really_stops_a_compile(project: Path, no_compiler: dict[str, str]) -> None:
    """Without it every 'hit' below could be a silent compile."""
    blocked = run_cli("check", "--no-cache", cwd=project, env=no_compiler)
    assert blocked.returncode == 3, blocked.stderr
    assert "the compiler was imported on a cache hit: generator.pipeline" in blocked.stderr


def _edit_spec(project: Path) -> None:
    spec = project / "specs" / SPEC
    spec.write_text(spec.read_text().replace("for: 5m", "for: 10m"))


def _edit_out(project: Path) -> None:
    rules = project / RULES
    rules.write_text(rules.read_text() + "# hand edit\n")


def _remove_out(project: Path) -> None:
    (project / "out" / "grafana" / "overview.json").unlink()


def _add_out(project: Path) -> None:
    (project / "out" / "prometheus" / "gone.rules.yml").write_text("groups: []\n")


def _everything(project: Path) -> None:
    _edit_out(project)
    _remove_out(project)
    _add_out(project)


@pytest.mark.parametrize(
    ("change", "code", "first_line"),
    [
        (None, 0, ""),
        (_edit_spec, 1, "changed: out/grafana/checkout-api.json"),
        (_edit_out, 1, f"changed: {RULES}"),
        (_remove_out, 1, "missing: out/grafana/overview.json"),
        (_add_out, 1, "extra:   out/prometheus/gone.rules.yml"),
    ],
    ids=["up-to-date", "spec-edited", "out-edited", "out-missing", "out-extra"],
)
def test_a_hit_says_what_a_full_compile_says(
    project: Path, no_compiler: dict[str, str], change, code: int, first_line: str
) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    if change is not None:
        change(project)
    full = run_cli("check", "--no-cache", cwd=project)
    assert full.returncode == code, full.stderr
    assert full.stderr.startswith(first_line)
    assert outcome(run_cli("check", cwd=project)) == outcome(full)  # a hit, or a miss storing
    hit = run_cli("check", cwd=project, env=no_compiler)
    assert outcome(hit) == outcome(full)


@pytest.mark.parametrize("flags", [("--output", "json"), ("--errors", "github")])
def test_a_hit_says_it_the_same_way_in_json_and_github(
    project: Path, no_compiler: dict[str, str], flags: tuple[str, ...]
) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    _everything(project)
    full = run_cli("check", *flags, "--no-cache", cwd=project)
    assert full.returncode == 1
    hit = run_cli("check", *flags, cwd=project, env=no_compiler)
    assert outcome(hit) == outcome(full)
    assert "gone.rules.yml" in hit.stdout + hit.stderr


def test_an_invalid_spec_is_never_answered_from_the_cache(project: Path) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    spec = project / "specs" / SPEC
    spec.write_text(spec.read_text().replace("objective: 99\n", "objective: 100\n"))
    before = entries(project)
    full = run_cli("check", "--no-cache", cwd=project)
    assert full.returncode == 1
    assert full.stderr.startswith("error: specs/checkout-api.yaml:")
    assert outcome(run_cli("check", cwd=project)) == outcome(full)
    assert entries(project) == before  # a failed run stores nothing


def test_generate_with_a_hit_does_nothing(project: Path, no_compiler: dict[str, str]) -> None:
    first = run_cli("generate", "--format", "prometheus,alertmanager", cwd=project)
    assert first.returncode == 0, first.stderr
    assert "warning: Alertmanager receiver 'payments-pager'" in first.stderr
    mtime = (project / RULES).stat().st_mtime_ns
    full = run_cli("generate", "--format", "prometheus,alertmanager", "--no-cache", cwd=project)
    assert "1 services, 5 files unchanged in out" in full.stdout
    hit = run_cli("generate", "--format", "prometheus,alertmanager", cwd=project, env=no_compiler)
    assert outcome(hit) == outcome(full)  # warnings included
    assert (project / RULES).stat().st_mtime_ns == mtime
    as_json = ("generate", "--format", "prometheus,alertmanager", "--output", "json")
    full_json = run_cli(*as_json, "--no-cache", cwd=project)
    assert outcome(run_cli(*as_json, cwd=project, env=no_compiler)) == outcome(full_json)


def test_generate_compiles_when_out_differs(project: Path, no_compiler: dict[str, str]) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    reference = tree_hashes(project / "out")
    _everything(project)
    assert run_cli("generate", "--no-promtool", cwd=project, env=no_compiler).returncode == 3
    again = run_cli("generate", "--no-promtool", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "4 files written" in again.stdout
    assert tree_hashes(project / "out") == reference


def test_generate_into_a_new_directory_after_a_check(project: Path) -> None:
    """check stores an entry even when out/ does not exist yet; generate must still write."""
    assert run_cli("check", "--out", "new/out", cwd=project).returncode == 1
    result = run_cli("generate", "--no-promtool", "--out", "new/out", cwd=project)
    assert outcome(result) == (0, "promspec: 1 services, 4 files written in new/out\n", "")
    assert run_cli("check", "--out", "new/out", cwd=project).returncode == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_generate_trusts_an_entry_only_once_promtool_accepted_it(
    project: Path, no_compiler: dict[str, str]
) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    assert run_cli("check", cwd=project).returncode == 0
    # Neither run proved the rules with promtool: generate must compile and run it.
    assert run_cli("generate", cwd=project, env=no_compiler).returncode == 3
    proven = run_cli("generate", "--output", "json", cwd=project)
    assert proven.returncode == 0, proven.stderr
    assert '"promtool_checked": true' in proven.stdout
    assert run_cli("check", cwd=project).returncode == 0
    hit = run_cli("generate", "--output", "json", cwd=project, env=no_compiler)
    assert outcome(hit) == outcome(proven)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_validate_is_answered_once_a_generate_passed_promtool(
    project: Path, no_compiler: dict[str, str]
) -> None:
    """The pre-commit validate hook: no compile when generate already proved these inputs."""
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    assert run_cli("validate", cwd=project, env=no_compiler).returncode == 3  # not proven
    assert run_cli("generate", cwd=project).returncode == 0
    full = run_cli("validate", "--no-cache", cwd=project)
    assert outcome(full) == (
        0,
        "promspec: 1 services valid (promtool check rules passed)\n",
        "",
    )
    assert outcome(run_cli("validate", cwd=project, env=no_compiler)) == outcome(full)
    as_json = ("validate", "--output", "json")
    full_json = run_cli(*as_json, "--no-cache", cwd=project)
    assert outcome(run_cli(*as_json, cwd=project, env=no_compiler)) == outcome(full_json)
    assert run_cli("validate", "--no-cache", cwd=project, env=no_compiler).returncode == 3
    _edit_spec(project)
    assert run_cli("validate", cwd=project, env=no_compiler).returncode == 3
    assert run_cli("validate", cwd=project).returncode == 0


def _package_copy(target: Path) -> Path:
    """promspec's package laid out as a wheel installs it, importable via PYTHONPATH."""
    package = target / "generator"
    shutil.copytree(ROOT / "generator", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", package / "templates")
    return package


def test_a_change_to_promspec_itself_misses(project: Path, tmp_path_factory) -> None:
    package = _package_copy(tmp_path_factory.mktemp("site"))
    env = {"PYTHONPATH": str(package.parent)}
    assert run_cli("check", cwd=project, env=env).returncode == 1  # out/ missing
    assert len(entries(project)) == 1
    with open(package / "units.py", "a") as handle:
        handle.write("# an edit that changes no output\n")
    assert run_cli("check", cwd=project, env=env).returncode == 1
    assert len(entries(project)) == 2
    with open(package / "templates" / "rules.yml.j2", "a") as handle:
        handle.write("{# a template edit #}\n")
    assert run_cli("check", cwd=project, env=env).returncode == 1
    assert len(entries(project)) == 3


def test_inputs_and_flags_that_shape_output_miss(project: Path) -> None:
    def entry_count(*args: str) -> int:
        result = run_cli("check", *args, cwd=project)
        assert result.returncode == 1, result.stderr  # out/ does not exist
        return len(entries(project))

    assert entry_count() == 1
    assert entry_count() == 1  # same inputs: the same entry
    assert entry_count("--format", "prometheus,operator") == 2
    assert entry_count("--format", "prometheus,operator", "--namespace", "obs") == 3
    assert entry_count("--format", "prometheus,operator", "--operator-label", "a=b") == 4
    templates = project / "templates"
    templates.mkdir()
    shutil.copy(ROOT / "templates" / "rules.yml.j2", templates)
    assert entry_count("--templates", "templates") == 5
    with open(templates / "rules.yml.j2", "a") as handle:
        handle.write("{# edited #}\n")
    assert entry_count("--templates", "templates") == 6
    defaults = project / "specs" / "_defaults.yaml"
    defaults.write_text(defaults.read_text() + "# edited\n")
    assert entry_count() == 7


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign", "directory"])
def test_a_corrupt_entry_is_a_miss(project: Path, no_compiler: dict[str, str], damage) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    (entry,) = entries(project)
    raw = entry.read_bytes()
    entry.unlink()
    if damage == "garbage":
        entry.write_bytes(b"\x00\xffnot an entry")
    elif damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "foreign":  # a valid checksum over a body of the wrong shape
        body = b'{"format": 1, "files": []}'
        entry.write_bytes(cache.MAGIC + b" " + cache.sha256(body).encode() + b"\n" + body)
    else:  # unreadable and unwritable
        entry.mkdir()
    assert run_cli("check", cwd=project, env=no_compiler).returncode == 3  # not trusted
    result = run_cli("check", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "promspec: out is up to date (4 files)\n"
    if damage != "directory":  # stored again, whole
        assert outcome(run_cli("check", cwd=project, env=no_compiler)) == outcome(result)


def test_the_cache_can_be_moved_or_turned_off(
    project: Path, tmp_path_factory, no_compiler: dict[str, str]
) -> None:
    assert run_cli("generate", "--no-promtool", "--no-cache", cwd=project).returncode == 0
    assert run_cli("check", cwd=project, env={cache.DISABLE_ENV: "1"}).returncode == 0
    assert not (project / cache.DEFAULT_DIR).exists()
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "cache"
    assert run_cli("check", cwd=project, env={cache.DIR_ENV: str(elsewhere)}).returncode == 0
    assert not (project / cache.DEFAULT_DIR).exists()
    assert len(list((elsewhere / cache.ENTRIES).glob("*.json"))) == 1
    assert (elsewhere / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (elsewhere / "CACHEDIR.TAG").is_file()
    moved = {**no_compiler, cache.DIR_ENV: str(elsewhere)}
    assert run_cli("check", cwd=project, env=moved).returncode == 0
    off = {**moved, cache.DISABLE_ENV: "1"}
    assert run_cli("check", cwd=project, env=off).returncode == 3
    assert run_cli("check", "--no-cache", cwd=project, env=moved).returncode == 3


def test_a_cache_that_cannot_be_written_is_skipped(project: Path) -> None:
    (project / "a-file").write_text("")
    written = run_cli("generate", "--no-promtool", "--cache-dir", "a-file/cache", cwd=project)
    assert written.returncode == 0, written.stderr
    result = run_cli("check", "--cache-dir", "a-file/cache", cwd=project)
    assert outcome(result) == (0, "promspec: out is up to date (4 files)\n", "")


def test_a_cache_inside_out_is_not_used(project: Path) -> None:
    """Inside out/ the cache would be an extra file there (and swapped away by generate)."""
    assert run_cli("generate", "--no-promtool", "--no-cache", cwd=project).returncode == 0
    for _ in range(2):
        result = run_cli("check", "--cache-dir", "out/.cache", cwd=project)
        assert outcome(result) == (0, "promspec: out is up to date (4 files)\n", "")
    assert not (project / "out" / ".cache").exists()


def test_concurrent_runs_share_the_cache_safely(project: Path) -> None:
    assert run_cli("generate", "--no-promtool", "--no-cache", cwd=project).returncode == 0
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "generator", "check"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert (proc.returncode, out, err) == (0, "promspec: out is up to date (4 files)\n", "")
    (entry,) = entries(project)
    assert cache.load(project / cache.DEFAULT_DIR, entry.stem) is not None
    folder = project / cache.DEFAULT_DIR / cache.ENTRIES
    assert sorted(p.name for p in folder.iterdir()) == sorted([entry.name, "jinja", "specs"])
    # One entry per spec file (no shapes' memo any more); no temporary file left behind.
    spec_entries = sorted(p.name for p in (folder / "specs").iterdir())
    assert len(spec_entries) == len(list((project / "specs").glob("[!_]*.yaml")))
    assert all(n.endswith(".entry") and not n.startswith(".") for n in spec_entries)


def test_an_entry_is_not_stored_when_the_inputs_changed_during_the_run(tmp_path: Path) -> None:
    keys = iter(["before", "after"])
    run_cache = cache.RunCache(tmp_path, lambda: next(keys))
    assert run_cache.key == "before"
    run_cache.store(cache.Entry({"a": "0" * 64}, 1))
    assert not (tmp_path / cache.ENTRIES).exists()
    steady = cache.RunCache(tmp_path, lambda: "same")
    steady.store(cache.Entry({"a": "0" * 64}, 1))
    assert cache.load(tmp_path, "same") == cache.Entry({"a": "0" * 64}, 1)


def test_one_discovery_shared_by_the_keys_still_reads_every_spec_afresh(project: Path) -> None:
    """check and generate discover the specs once for the run key (before and after
    compiling) and the compile: the key after compiling must still see an edit made
    during the run, and the next run (its own discovery) a spec added meanwhile."""
    from generator.spec import inputs

    specs, out = [project / "specs"], project / "out"
    recipe = dict(specs=specs, out=out, defaults=None, templates=None, alertmanager=None, flags={})
    found = inputs.discover(specs, out)
    before = cache.run_key(**recipe, discovered=found)
    assert before == cache.run_key(**recipe)  # the same key as a discovery of its own
    spec = project / "specs" / SPEC
    spec.write_text(spec.read_text() + "# edited during the run\n")
    assert cache.run_key(**recipe, discovered=found) != before

    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    added = project / "specs" / "checkout-copy.yaml"
    added.write_text(spec.read_text().replace("service: checkout-api", "service: checkout-copy"))
    result = run_cli("check", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "missing: out/prometheus/checkout-copy.rules.yml" in result.stderr


def test_old_entries_are_pruned(tmp_path: Path) -> None:
    for i in range(cache.KEEP_ENTRIES + 5):
        cache.store(tmp_path, f"k{i:03d}", cache.Entry({}, 1))
        os.utime(tmp_path / cache.ENTRIES / f"k{i:03d}.json", ns=(i * 10**9, i * 10**9))
    cache.store(tmp_path, "last", cache.Entry({}, 1))
    kept = sorted(p.stem for p in (tmp_path / cache.ENTRIES).glob("*.json"))
    assert len(kept) == cache.KEEP_ENTRIES
    assert "last" in kept and "k000" not in kept and f"k{cache.KEEP_ENTRIES + 4:03d}" in kept


def test_the_command_line_lists_the_formats_the_writers_have() -> None:
    assert (*formats.FORMATS, *formats.FLEET_FORMATS) == conventions.FORMAT_NAMES


def test_the_cache_directory_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"{cache.DEFAULT_DIR}/v1/x.json"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled 50 ms after their last change (above any clock tick), so a
    test need not wait the real window out."""
    monkeypatch.setattr(cache, "RACY_NS", 50_000_000)


def _kept_tree(tmp_path: Path) -> tuple[Path, Path]:
    """out/ with two files whose stat the cache keeps (they have settled)."""
    out, folder = tmp_path / "out", tmp_path / "cache"
    (out / "prometheus").mkdir(parents=True)
    (out / "prometheus" / "a.rules.yml").write_text("groups: []\n")
    (out / "overview.json").write_text("{}\n")
    time.sleep(0.1)
    assert cache.hash_tree(out, folder) == cache.hash_tree(out)
    return out, folder


def test_out_files_whose_stat_is_unchanged_are_not_read_again(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, folder = _kept_tree(tmp_path)
    hashed: list[bytes] = []
    real = cache.sha256
    monkeypatch.setattr(cache, "sha256", lambda data: hashed.append(data) or real(data))
    digests = cache.hash_tree(out, folder)
    assert hashed and not {b"{}\n", b"groups: []\n"} & set(hashed)  # out/ was not read
    assert digests == {
        "overview.json": hashlib.sha256(b"{}\n").hexdigest(),
        "prometheus/a.rules.yml": hashlib.sha256(b"groups: []\n").hexdigest(),
    }


def test_an_edit_that_keeps_size_and_mtime_is_still_found(tmp_path: Path, settled: None) -> None:
    out, folder = _kept_tree(tmp_path)
    rules = out / "prometheus" / "a.rules.yml"
    before = rules.stat()
    rules.write_text("groups: {}\n")  # same size
    os.utime(rules, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert rules.stat().st_size == before.st_size
    assert (
        cache.hash_tree(out, folder)["prometheus/a.rules.yml"]
        == hashlib.sha256(b"groups: {}\n").hexdigest()
    )


def test_a_file_changed_just_now_is_not_kept(tmp_path: Path, settled: None) -> None:
    """Two writes within one clock tick leave the same stat: such a file is read every
    time until it has settled."""
    out, folder = _kept_tree(tmp_path)
    rules = out / "prometheus" / "a.rules.yml"
    rules.write_text("groups: {}\n")
    cache.hash_tree(out, folder)
    rules.write_text("groups: []\n")  # possibly within the same tick as the first write
    assert (
        cache.hash_tree(out, folder)["prometheus/a.rules.yml"]
        == hashlib.sha256(b"groups: []\n").hexdigest()
    )
    kept = cache._load_stats(cache._stats_path(folder, out))
    assert "prometheus/a.rules.yml" not in kept and "overview.json" in kept


def test_a_corrupt_stat_record_is_ignored(tmp_path: Path, settled: None) -> None:
    out, folder = _kept_tree(tmp_path)
    record = cache._stats_path(folder, out)
    record.write_bytes(record.read_bytes().replace(b"0", b"1"))
    assert cache.hash_tree(out, folder) == cache.hash_tree(out)


def test_check_finds_a_same_size_edit_of_a_file_whose_stat_was_kept(project: Path) -> None:
    assert run_cli("generate", "--no-promtool", cwd=project).returncode == 0
    time.sleep(cache.RACY_NS / 1e9 + 0.1)  # out/ settles: the next check keeps its stat
    assert run_cli("check", cwd=project).returncode == 0
    assert list((project / cache.DEFAULT_DIR / cache.STATS).glob("*.json"))
    rules = project / RULES
    before = rules.stat()
    text = rules.read_text()
    rules.write_text(text.replace("for: 5m", "for: 7m", 1))
    os.utime(rules, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert rules.stat().st_size == before.st_size and rules.read_text() != text
    stale = run_cli("check", cwd=project)
    assert stale.returncode == 1
    assert stale.stderr.startswith(f"changed: {RULES}")
