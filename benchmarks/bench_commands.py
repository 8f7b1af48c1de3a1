"""CPU seconds of the quick commands, each in a fresh process, and what their imports cost.

Issue 12 asks for `audit --help`, `audit checks`, `audit validate` and `audit schema` under
1.5 s of CPU each (imports included: they are most of it). Each command runs ``--repeat`` times
in a new interpreter; the benchmark prints the median CPU time (user + system of the child) and
wall time, and with ``--imports`` the slowest top-level imports of one run (``python -X
importtime``), which is where a regression shows first.

    python benchmarks/bench_commands.py
    python benchmarks/bench_commands.py --repeat 7 --imports

Nothing here asserts a time. Results go to stdout (and ``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "demo.yaml"

COMMANDS = {
    "audit --help": ["--help"],
    "audit checks": ["checks"],
    "audit schema": ["schema"],
    "audit validate --schema-only": ["validate", "--schema-only", str(POLICY)],
}


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_command(args: list[str], repeat: int) -> dict:
    """Median CPU and wall seconds of ``python -m audit ARGS`` over ``repeat`` fresh processes."""
    cpu, wall = [], []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(repeat):
        c0, t0 = _child_cpu(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, env=env, cwd=ROOT)
        wall.append(time.perf_counter() - t0)
        cpu.append(_child_cpu() - c0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"audit {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return {"cpu_s": round(statistics.median(cpu), 3), "wall_s": round(statistics.median(wall), 3),
            "cpu_min_s": round(min(cpu), 3), "runs": repeat}


def slowest_imports(args: list[str], top: int = 10) -> list[tuple[str, float]]:
    """The ``top`` packages by import time (s) in one run: the self time of all their modules."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "audit", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    per_pkg: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|", 2)
        pkg = name.strip().split(".")[0]
        per_pkg[pkg] = per_pkg.get(pkg, 0.0) + int(self_us) / 1e6
    return sorted(per_pkg.items(), key=lambda kv: -kv[1])[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per command (default 5)")
    ap.add_argument("--imports", action="store_true", help="also list the slowest imports of each command")
    ap.add_argument("--json", type=Path, help="write the numbers to this file too")
    a = ap.parse_args(argv)
    out = {}
    print(f"{'command':32} {'CPU s (median)':>15} {'min':>7} {'wall s':>8}")
    for name, args in COMMANDS.items():
        r = time_command(args, a.repeat)
        out[name] = r
        print(f"{name:32} {r['cpu_s']:>15.3f} {r['cpu_min_s']:>7.3f} {r['wall_s']:>8.3f}")
        if a.imports:
            r["imports"] = slowest_imports(args)
            print("    " + ", ".join(f"{p} {s:.2f}" for p, s in r["imports"]))
    print(f"load average during the run: {os.getloadavg()}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
