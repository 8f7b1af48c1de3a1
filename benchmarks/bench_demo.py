"""Time the bundled demo audit end to end, as a user runs it.

    python benchmarks/bench_demo.py [--repeats 3]

Runs ``audit demo`` in a fresh process (imports, data, training, every check of
policies/demo.yaml, HTML, PDF, JSON, JUnit) and prints the wall time, then the
per-check and per-evaluation-set times recorded in the run's results.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    walls = {"with PDF": [], "without PDF": []}
    last = None
    for _ in range(args.repeats):
        for label, extra in (("with PDF", []), ("without PDF", ["--no-pdf"])):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [sys.executable, "-m", "audit", "demo", "--work", f"{tmp}/work", "--out", f"{tmp}/out",
                       "--quiet", *extra]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls[label].append(time.perf_counter() - t0)
                last = json.loads(next(Path(tmp, "out").glob("*/results.json")).read_text())
    for label, ws in walls.items():
        print(f"audit demo {label:12}: best {min(ws):6.1f} s, median {sorted(ws)[len(ws) // 2]:6.1f} s")
    print(f"\nchecks in the last run ({last['manifest']['wall_time_s']:.1f} s inside the runner):")
    for r in sorted(last["results"], key=lambda r: -r["duration_s"])[:12]:
        print(f"  {r['duration_s']:6.2f} s  {r['id']} [{r['evalset']}]")
    print("\nevaluation sets (build / predict, s):")
    for name, t in last["manifest"]["timings"].items():
        print(f"  {name:28} {t.get('build_s', 0):6.3f} / {t.get('predict_s', 0):6.3f}")


if __name__ == "__main__":
    main()
