"""The floor: what any tool that reads these specs and writes these files must spend.

yaml.load of every spec, then every file promspec writes for them, from the final data
(with the same libyaml backend promspec uses): the rule and test files (and Grafana's
provisioning file) with yaml.dump, the dashboards with json.dumps in promspec's format
(sorted keys, two-space indent). Run as its own process by bench_generate.py; prints the
seconds spent on unpickling the data, which is how this process gets it, not work the
floor does.

usage: floor.py SPECS_DIR OUTPUT_DATA.pickle OUT_DIR
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def main() -> None:
    specs, data_file, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    start = time.perf_counter()
    files = pickle.loads(data_file.read_bytes())  # {relative path: data}
    unpickle = time.perf_counter() - start
    for spec in sorted(specs.glob("*.yaml")):
        yaml.load(spec.read_text("utf-8"), Loader=Loader)
    for name, data in files.items():
        if name.endswith(".json"):
            text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        else:
            text = yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True)
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    print(f"{unpickle:.6f}")


if __name__ == "__main__":
    main()
