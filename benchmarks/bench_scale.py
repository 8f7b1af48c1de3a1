"""Streamed audits at scale: wall time, time inside the model's predict, and the fixed cost.

    python benchmarks/bench_scale.py [--rows 1000000 10000000] [--executors local dask]
                                     [--workload demo hgb] [--work DIR] [--repo CHECKOUT]

Two workloads, each a folder of Parquet files (1M rows per file, made one file at a time):

- ``demo``: the demo policy without its adversarial checks (22 checks, six evaluation sets
  predicted per row) on the demo's synthetic credit data and its logistic-regression pipeline
  (about 2.5 us per row and set: predict is cheap next to reading and summarising a row);
- ``hgb``: the standard workload's policy (benchmarks/bench_workload.py: 33 checks, two sets per
  row) on its data (../shared/bench/make_workload.py) and its HistGradientBoosting pipeline.

Each size runs ``audit run --no-pdf`` in a fresh process through benchmarks/_phases.py, and
reports:

- wall time of the whole command, rows per second, peak RSS of the largest process;
- wall and CPU seconds per phase (imports + model load, sample pass, summary pass, checks,
  HTML, other);
- ``predict_s``: time inside the model's predict, summed over partitions, and the share of
  wall time outside predict: ``1 - predict_s / (wall x workers)`` (the model had the
  workers' time; whatever else they did is overhead);
- the fixed cost: wall time of the phases that do not grow with rows (imports, model load,
  checks, HTML, other).

Results are appended to benchmarks/results/bench_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FIXED = ("imports + model load", "checks", "HTML", "other")


def write_demo_data(folder: Path, rows: int, seed: int = 1, per_file: int = 1_000_000) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audit.data.demo import make_credit_data

    data = folder / f"demo-holdout-{rows}"
    if data.exists():
        return data
    tmp = data.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, rows, per_file)):
        df = make_credit_data(min(per_file, rows - start), seed=seed + i)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp / f"part-{i:04d}.parquet",
                       row_group_size=131_072)
    tmp.rename(data)
    return data


def write_hgb_data(folder: Path, rows: int, per_file: int = 1_000_000) -> Path:
    """The standard workload's test rows in files of 1M (each file its own seed of make_workload.py)."""
    from bench_workload import BENCH

    data = folder / f"hgb-holdout-{rows}"
    if data.exists():
        return data
    tmp = data.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for i, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        part = tmp / f"gen-{i}"
        subprocess.run([sys.executable, str(BENCH / "make_workload.py"), "--n-train", "1", "--n-test", str(n),
                        "--seed", str(100 + i), "--out", str(part)], check=True, env=env, capture_output=True)
        (part / f"test_n{n + 1}.parquet").rename(tmp / f"part-{i:04d}.parquet")
        for f in part.iterdir():
            f.unlink()
        part.rmdir()
    tmp.rename(data)
    return data


def demo_policy(folder: Path) -> Path:
    from audit.data.demo import write_demo

    paths = write_demo(folder / "demo")
    policy = yaml.safe_load((ROOT / "policies" / "demo.yaml").read_text())
    policy["checks"] = [c for c in policy["checks"] if not c["id"].startswith("adversarial.")]
    policy["model"] = {"path": str(paths["model"])}
    policy["data"]["path"] = "unused.parquet"
    policy["data"]["reference"] = str(paths["train"])
    path = folder / "scale-demo.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def hgb_policy(folder: Path) -> Path:
    from bench_workload import prepare

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return prepare(70000, folder / "hgb", env)  # model trained on the 50k training rows of n70000


def run(policy: Path, data: Path, executor: str, workers: int, out: Path, repo: Path) -> dict:
    phases = out.with_suffix(f".{time.time_ns()}.phases.json")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "_phases.py"), str(phases), "run", str(policy),
           "--data", str(data), "--executor", executor, "--workers", str(workers), "--no-pdf", "--quiet",
           "--trust-model", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read()
    ph = json.loads(phases.read_text()) if phases.exists() else None
    if ph is None or ph["exit_code"] not in (0, 1):
        raise SystemExit(f"audit run failed:\n{stderr[-3000:]}")
    res = json.loads(max(out.glob("*/results.json"), key=lambda p: p.stat().st_mtime).read_text())
    m = res["manifest"]
    st = m["timings"]["passes"]
    rows = m["execution"]["rows"]
    fixed = sum(ph["wall_s"][p] for p in FIXED if p != "imports + model load") + (
        wall - sum(ph["wall_s"].values()))  # the time before the first phase: imports and model load
    return {"executor": executor, "workers": workers, "rows": rows, "wall_s": round(wall, 2),
            "rows_per_s": round(rows / wall), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "phase_wall_s": {k: round(v, 2) for k, v in ph["wall_s"].items()},
            "phase_cpu_s": {k: round(v, 2) for k, v in ph["cpu_s"].items()},
            "sample_pass_s": st["sample_pass_s"], "summary_pass_s": st["summary_pass_s"],
            "predict_s": st["predict_s"], "task_s": st["task_s"],
            "outside_predict": round(1 - st["predict_s"] / (wall * workers), 3),
            "outside_predict_in_tasks": round(1 - st["predict_s"] / max(st["task_s"], 1e-9), 3),
            "fixed_s": round(fixed, 2), "partitions": m["execution"]["partitions"],
            "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--executors", nargs="+", default=["local", "dask"])
    ap.add_argument("--workload", nargs="+", default=["demo", "hgb"], choices=["demo", "hgb"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default=None, help="folder for data (default: a temporary folder)")
    ap.add_argument("--repo", default=str(ROOT), help="checkout whose audit runs (default: this one)")
    args = ap.parse_args()
    tmp = Path(args.work or tempfile.mkdtemp(prefix="bench-scale-"))
    repo = Path(args.repo).resolve()
    out = []
    for workload in args.workload:
        policy = demo_policy(tmp) if workload == "demo" else hgb_policy(tmp)
        for rows in args.rows:
            t0 = time.perf_counter()
            data = write_demo_data(tmp, rows) if workload == "demo" else write_hgb_data(tmp, rows)
            print(f"{workload}: {rows:,} rows ready in {time.perf_counter() - t0:.0f} s", flush=True)
            for ex in args.executors:
                r = {"workload": workload, "repo": str(repo),
                     **run(policy, data, ex, args.workers, tmp / f"out-{workload}-{rows}-{ex}", repo)}
                out.append(r)
                print(json.dumps(r), flush=True)
    print(f"\n{'workload':>8} {'rows':>11} {'executor':>8} {'wall s':>7} {'rows/s':>9} {'peak MB':>8} "
          f"{'pass 2 s':>8} {'predict s':>9} {'outside':>8} {'in tasks':>8} {'fixed s':>8}")
    for r in out:
        print(f"{r['workload']:>8} {r['rows']:>11,} {r['executor']:>8} {r['wall_s']:>7.1f} {r['rows_per_s']:>9,} "
              f"{r['peak_rss_mb'] or 0:>8.0f} {r['summary_pass_s']:>8.1f} {r['predict_s']:>9.1f} "
              f"{r['outside_predict']:>8.0%} {r['outside_predict_in_tasks']:>8.0%} {r['fixed_s']:>8.1f}")
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(exist_ok=True)
    with open(res_dir / "bench_scale.json", "a") as fh:
        fh.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": out}) + "\n")


if __name__ == "__main__":
    main()
