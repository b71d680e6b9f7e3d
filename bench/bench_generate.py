"""How fast is promspec in a pre-commit hook over a large infra repo?

For 10, 100 and 1,000 synthetic services (bench/synth.py), each measured in fresh
processes, repeated, median reported:
- `promspec generate` cold (`--no-cache`, into an empty out/), without promtool and with
  it (promtool runs once over all files);
- promtool alone over the same files, to show its share;
- `promspec check` on an up-to-date out/ (the pre-commit path; it never runs promtool),
  compiling (`--no-cache`) and answered from the cache (a hit: nothing changed since the
  last generate);
- `promspec generate` on an up-to-date out/ with a cache hit (nothing to do);
- one spec changed (a threshold of the first service, new each repetition), as in a
  commit: `promspec check` (it finds out/ stale, exit 1), then `promspec generate` with
  promtool; both compile that spec file only (the per-spec cache);
- the floor (bench/floor.py): load every spec and write every file promspec writes (rule
  and test files with PyYAML, dashboards with json.dumps).
Repetitions are interleaved, so the generate/floor ratio is taken under the same load
(the machine is shared; ratios are steadier than seconds).

usage: python bench/bench_generate.py [--sizes 10,100,1000] [--repeat N]
(`make bench` runs all benchmarks with their defaults)
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, PYTHON, ROOT, machine, median_of, run, save
from synth import service_name, write_specs

PROMSPEC = str(Path(PYTHON).parent / "promspec")
COLD = [PROMSPEC, "generate", "specs", "--no-cache", "--out"]
TARGETS = {
    "generate_1000_s": 10.0,
    "check_100_s": 1.0,
    "ratio_to_floor": 3.0,
    # Per-service time at 1,000 over that at 100: 1.0 is linear; allow noise.
    "linearity": 1.25,
}


def backend() -> dict[str, str]:
    """Which libyaml classes promspec builds on (the floor uses the same)."""
    from generator.rules import render
    from generator.spec import load

    return {
        "specs_loader": load.fast_loader().__name__,
        "rules_loader": load.fast_loader().__name__,
        "rules_dumper": render.YamlDumper.__bases__[0].__name__,
    }


def precompile() -> dict[str, Any]:
    """Write promspec's bytecode first, as installing a package does, so that no timed run
    compiles promspec's sources. Under PYTHONDONTWRITEBYTECODE (set on the build machines)
    an editable install would otherwise compile every module in every run (~0.1 s), while
    the floor's PyYAML was compiled when pip installed it."""
    import compileall

    ok = all(compileall.compile_dir(str(ROOT / d), quiet=1) for d in ("generator", "templates"))
    return {
        "promspec_bytecode_precompiled": ok,
        "PYTHONDONTWRITEBYTECODE": "PYTHONDONTWRITEBYTECODE" in os.environ,
    }


def output_data(out: Path) -> dict[str, Any]:
    """The final data of every file promspec wrote (rules, tests, dashboards), as the
    floor must write it, by path relative to out/."""
    data: dict[str, Any] = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.suffix == ".json":
            data[rel] = json.loads(p.read_text("utf-8"))
        elif p.suffix in (".yml", ".yaml"):
            data[rel] = yaml.load(p.read_text("utf-8"), Loader=yaml.CSafeLoader)
    return data


def measure_size(services: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"promspec-bench-{services}-") as tmp:
        root = Path(tmp)
        specs = write_specs(root, services)
        out = root / "out"
        # With promtool: the cache entry it leaves lets `generate` skip a no-op run.
        run([PROMSPEC, "generate", "specs", "--out", "out"], cwd=root)
        files = sorted(str(p) for p in (out / "prometheus").glob("*.rules.yml"))
        data_file = root / "output.pickle"
        data_file.write_bytes(pickle.dumps(output_data(out)))
        runs: dict[str, list[dict[str, Any]]] = {
            k: []
            for k in (
                "generate",
                "generate_promtool",
                "promtool",
                "check",
                "check_cached",
                "generate_cached",
                "check_one_changed",
                "generate_one_changed",
                "floor",
            )
        }
        first = specs / f"{service_name(0)}.yaml"
        original = first.read_text()
        for i in range(repeat):
            for key, cmd in (
                ("generate", [*COLD, "o1", "--no-promtool"]),
                ("generate_promtool", [*COLD, "o2"]),
                ("check", [PROMSPEC, "check", "specs", "--out", "out", "--no-cache"]),
                ("check_cached", [PROMSPEC, "check", "specs", "--out", "out"]),
                ("generate_cached", [PROMSPEC, "generate", "specs", "--out", "out"]),
                ("check_one_changed", [PROMSPEC, "check", "specs", "--out", "out"]),
                ("generate_one_changed", [PROMSPEC, "generate", "specs", "--out", "out"]),
                ("promtool", ["promtool", "check", "rules", *files]),
                ("floor", [PYTHON, str(BENCH / "floor.py"), str(specs), str(data_file), "o3"]),
            ):
                for d in ("o1", "o2", "o3"):  # every generate writes a fresh tree
                    shutil.rmtree(root / d, ignore_errors=True)
                if key == "check_one_changed":
                    first.write_text(original.replace("critical: 900", f"critical: {901 + i}"))
                result = run(cmd, cwd=root, expect=1 if key == "check_one_changed" else 0)
                if key == "floor":
                    result["wall_s"] -= float(result["stdout"].split()[-1])
                runs[key].append(result)
                print(
                    f"  {services:>5} services  run {i + 1}/{repeat}  {key:<18} "
                    f"{result['wall_s']:7.3f} s  {result['peak_rss_mib']:7.1f} MiB",
                    flush=True,
                )
        figures = {k: median_of(v) for k, v in runs.items()}
        ratios = [
            g["wall_s"] / f["wall_s"] for g, f in zip(runs["generate"], runs["floor"], strict=True)
        ]
        figures["ratio_to_floor"] = round(statistics.median(ratios), 2)
        for k in ("generate", "generate_promtool", "check", "check_cached", "floor"):
            figures[k]["ms_per_service"] = round(1000 * figures[k]["wall_s"] / services, 2)
        return figures


def runs_of(figures: dict[str, Any]) -> list[str]:
    return [k for k, v in figures.items() if isinstance(v, dict) and "cpu_s" in v]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument(
        "--repeat", type=int, help="runs per size (default 7 at 10, 3 at 100, 2 at 1,000)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, Any] = {"machine": machine(), "yaml_backend": backend(), "sizes": {}}
    results["machine"].update(precompile())
    for n in sizes:
        # A 1 s run moves by a tenth from one run to the next here: more runs where cheap.
        repeat = args.repeat or (7 if n <= 10 else 3 if n <= 100 else 2)
        results["sizes"][str(n)] = measure_size(n, repeat)
    s = results["sizes"]
    verdict: dict[str, Any] = {}
    if "1000" in s:
        verdict["generate_1000_s"] = s["1000"]["generate"]["wall_s"]
        verdict["generate_promtool_1000_s"] = s["1000"]["generate_promtool"]["wall_s"]
    if "1000" in s:
        verdict["generate_1000_one_changed_s"] = s["1000"]["generate_one_changed"]["wall_s"]
    if "100" in s:
        # The pre-commit path: a commit changed one spec (nothing changed: check_cached).
        verdict["check_100_s"] = s["100"]["check_one_changed"]["wall_s"]
        verdict["check_100_cached_s"] = s["100"]["check_cached"]["wall_s"]
        verdict["check_100_uncached_s"] = s["100"]["check"]["wall_s"]
    verdict["ratio_to_floor"] = {n: f["ratio_to_floor"] for n, f in s.items()}
    if "100" in s and "1000" in s:
        verdict["linearity"] = round(
            s["1000"]["generate"]["ms_per_service"] / s["100"]["generate"]["ms_per_service"], 2
        )
    verdict["met"] = {
        "generate_1000_under_10s": verdict.get("generate_1000_s", 1e9) < TARGETS["generate_1000_s"],
        "check_100_under_1s": verdict.get("check_100_s", 1e9) < TARGETS["check_100_s"],
        "within_3x_of_floor": all(
            r <= TARGETS["ratio_to_floor"] for r in verdict["ratio_to_floor"].values()
        ),
        "linear": verdict.get("linearity", 1e9) <= TARGETS["linearity"],
    }
    results["summary"] = verdict
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = save("generate", results) if sizes == [10, 100, 1000] else None
    print()
    columns = ("services", "generate", "+promtool", "promtool", "check", "check$", "floor")
    columns += ("ratio", "gen$", "check1", "gen1")
    header = " ".join(f"{c:>9}" for c in (*columns, "ms/svc", "peak MiB"))
    print(header)
    for n, f in s.items():
        seconds = [f[k]["wall_s"] for k in ("generate", "generate_promtool", "promtool")]
        seconds += [f["check"]["wall_s"], f["check_cached"]["wall_s"], f["floor"]["wall_s"]]
        seconds += [f["ratio_to_floor"], f["generate_cached"]["wall_s"]]
        seconds += [f["check_one_changed"]["wall_s"], f["generate_one_changed"]["wall_s"]]
        seconds += [f["generate"]["ms_per_service"], f["generate"]["peak_rss_mib"]]
        print(f"{n:>9} " + " ".join(f"{v:9.2f}" for v in seconds))
    print("(check$, gen$: answered from the cache; check1, gen1: one spec changed)")
    print("\nCPU seconds (user + system):")
    for n, f in s.items():
        print(f"{n:>9} " + "  ".join(f"{k} {f[k]['cpu_s']:.2f}" for k in runs_of(f)))
    print(f"\nsummary: {verdict}")
    print(f"results: {path}" if path else "results not saved (partial sizes)")


if __name__ == "__main__":
    main()
