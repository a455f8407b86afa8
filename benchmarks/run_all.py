"""Run every benchmark at its small ``--quick`` size, one process each, and collect the JSON.

Each script prints its table and writes ``<out>/<name>.json``; this runner adds
``<out>/summary.json`` with each script's command, wall time and exit status. The whole run
takes about 2 minutes on 2 CPU cores (1 min 45 s on 2026-11-26). The sizes are smoke-test
sizes: the figures in ``docs/benchmarks.md`` come from the full commands given there.

Examples::

    python benchmarks/run_all.py --out bench-results
    python benchmarks/run_all.py --only training predict
    python benchmarks/run_all.py --device cuda --out gpu-results   # GPU sections only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> extra arguments (beyond --quick and --out); every script accepts both.
CPU = {
    "training": [],
    "predict": [],
    "collapse": ["--blas-threads", "2"],
    "quality": [],
    "time_to_quality": [],
    "predict_memory": [],
    "precision_quality": [],
}
# On a GPU: the sections that have a device path, at their quick sizes.
GPU = {
    "training": ["--device", "cuda", "--compile"],
    "predict": ["--device", "cuda"],
    "collapse": ["--device", "cuda"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-results", help="folder for the JSON files")
    parser.add_argument("--only", nargs="+", help="run only these benchmarks")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    plan = GPU if args.device == "cuda" else CPU
    unknown = set(args.only or ()) - set(plan)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(plan)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    summary, failed = {}, []
    for name, extra in plan.items():
        if args.only and name not in args.only:
            continue
        command = [
            sys.executable,
            str(HERE / f"bench_{name}.py"),
            "--quick",
            "--out",
            str(out / f"{name}.json"),
            *extra,
        ]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        status = subprocess.call(command)
        seconds = time.perf_counter() - start
        print(f"=== {name}: exit {status} in {seconds:.0f} s", flush=True)
        summary[name] = {"command": command[1:], "seconds": seconds, "exit_status": status}
        if status:
            failed.append(name)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    total = sum(row["seconds"] for row in summary.values())
    print(f"\n{len(summary)} benchmark(s) in {total:.0f} s; results in {out}/")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
