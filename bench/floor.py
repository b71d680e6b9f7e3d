"""The floor: what any tool that reads these specs and writes these rules must spend.

yaml.safe_load of every spec and yaml.safe_dump of the final rule data of every
service (with the same libyaml backend promspec uses), written to files. Run as its own
process by bench_generate.py; prints the seconds spent on unpickling the rule data,
which is how this process gets the data, not work the floor does.

usage: floor.py SPECS_DIR RULE_DATA.pickle OUT_DIR
"""

from __future__ import annotations

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
    rules = pickle.loads(data_file.read_bytes())
    unpickle = time.perf_counter() - start
    for spec in sorted(specs.glob("*.yaml")):
        yaml.load(spec.read_text("utf-8"), Loader=Loader)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in rules.items():
        text = yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True)
        (out / name).write_text(text, "utf-8")
    print(f"{unpickle:.6f}")


if __name__ == "__main__":
    main()
