"""Where a cold `promspec generate` spends its CPU, stage by stage.

Runs `promspec generate DIR --out OUT --no-promtool --no-cache` for N bench/synth.py
services in this process, in one process (PROMSPEC_JOBS=1, so every stage is seen here),
with a CPU timer (time.process_time) around each stage's function. No profiler: its
overhead is many times the cost of the small calls the printers make, and would skew
the shares. Timers nest (6a and 6b are inside 6, 5c holds the printing of the rules'
expressions); the total is the whole command after imports. `--no-gc` turns the cyclic
garbage collector off, to see its share (memory grows); it is already off during each
spec file's build and each service's compile (parallel._quietly), so what it shows is
the collector's share in the rest of the run.

usage: python bench/bench_stages.py [--services 100] [--no-gc]
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import write_specs

# (module, function, label[, class]): the stages in pipeline order.
STAGES = [
    ("generator.rules.render", "load_package_templates", "0  templates compiled"),
    ("generator.pipeline", "load_file", "1  load: spec YAML"),
    ("generator.pipeline", "check_document", "2  validate: JSON Schema"),
    ("generator.spec.build", "service", "3  build: the model, PromQL parsed", "Builder"),
    ("generator.slo.plan", "plan_service", "4  plan: SLO math"),
    ("generator.rules.slo", "groups", "5a rules: SLO rules as data"),
    ("generator.rules.checks", "groups", "5b rules: check rules as data"),
    ("generator.rules.render", "rules_data", "5c rules: Jinja builds the data, printing"),
    ("generator.rules.render", "rules_text", "5c rules: Jinja render (before 2026-12-04)"),
    ("generator.rules.render", "load_yaml", "5d rules: YAML text read back"),
    ("generator.rules.render", "_canonical", "5e rules: text rules printed"),
    ("generator.proofs.render", "render_file", "5f proofs: test files laid out, dumped"),
    ("generator.proofs.render", "proof_data", "5g proofs: Jinja builds the data"),
    ("generator.proofs.render", "direct_data", "5g proofs: built in Python (before 2026-12-04)"),
    ("generator.proofs.render", "file_text", "5h proofs: test files dumped"),
    ("generator.dashboards.service", "service_dashboard", "6  dashboards"),
    ("generator.dashboards.grafana", "query", "6a dashboards: queries printed"),
    ("generator.dashboards.grafana", "encode", "6b dashboards: JSON encoded"),
    ("generator.rules.formats", "prometheus", "7  rule files dumped (YAML)"),
    ("generator.outputs.write", "write_tree", "8  out/ written"),
]


def timed_stages() -> tuple[dict[str, float], dict[str, int]]:
    """Wrap every stage function with a CPU timer; what they spent, and how often."""
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    for module, name, label, *owner in STAGES:
        mod = importlib.import_module(module)
        target = getattr(mod, owner[0]) if owner else mod
        if hasattr(target, name):
            setattr(target, name, _timer(getattr(target, name), label, spent, calls))
    return spent, calls


def _timer(
    fn: Callable[..., Any], label: str, spent: dict[str, float], calls: dict[str, int]
) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - start
            calls[label] = calls.get(label, 0) + 1

    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--no-gc", action="store_true", help="cyclic GC off (its share)")
    parser.add_argument("--proofs", action="store_true", help="build the proofs too")
    args = parser.parse_args()
    os.environ["PROMSPEC_JOBS"] = "1"
    spent, calls = timed_stages()
    from generator.cli.main import main as promspec
    from generator.pipeline import compile_specs

    with tempfile.TemporaryDirectory(prefix="promspec-stages-") as tmp:
        specs = write_specs(Path(tmp), args.services)
        argv = ["generate", str(specs), "--out", f"{tmp}/out", "--no-promtool", "--no-cache"]
        if args.no_gc:
            gc.disable()
        cpu, wall = time.process_time(), time.perf_counter()
        if args.proofs:
            compile_specs([specs], use_promtool=False, proofs=True)
        else:
            try:
                promspec(argv, standalone_mode=False)
            except SystemExit as exc:
                if exc.code:
                    raise
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    what = "compile with proofs" if args.proofs else "cold generate"
    print(f"{what} of {args.services} synth services, one process (CPU seconds)")
    for label in sorted(spent):
        share = 100 * spent[label] / cpu
        print(f"  {label:42s} {spent[label]:7.2f} s {share:5.1f}%  {calls[label]:7d} calls")
    print(f"  {'whole command (after imports)':42s} {cpu:7.2f} s  wall {wall:.1f} s")


if __name__ == "__main__":
    main()
