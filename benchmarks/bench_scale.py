"""Streamed audits at scale: the demo policy (without adversarial checks) at 1M and 10M rows.

    python benchmarks/bench_scale.py [--rows 1000000 10000000] [--executors local dask]

For each size it writes the demo's synthetic credit data as a folder of
Parquet files (1M rows per file, made and written one file at a time), then
runs ``audit run`` in a fresh process per executor and reports:

- wall time of the whole command and rows per second;
- peak RSS of the largest process (the driver, or a Dask worker), from
  ``getrusage(RUSAGE_CHILDREN)``, which covers every finished descendant;
- time inside the model's predict, summed over partitions (``predict_s``), and
  its share of the wall time x the number of workers predicting in parallel.

The curve of wall time against rows shows whether time grows linearly.
Results are appended to benchmarks/results/bench_scale.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_data(folder: Path, rows: int, seed: int = 1, per_file: int = 1_000_000) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audit.data.demo import make_credit_data

    data = folder / f"holdout-{rows}"
    if data.exists():
        return data
    data.mkdir(parents=True)
    for i, start in enumerate(range(0, rows, per_file)):
        df = make_credit_data(min(per_file, rows - start), seed=seed + i)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), data / f"part-{i:04d}.parquet",
                       row_group_size=131_072)
    return data


def write_policy(folder: Path, model: Path, train: Path) -> Path:
    policy = yaml.safe_load((ROOT / "policies" / "demo.yaml").read_text())
    policy["checks"] = [c for c in policy["checks"] if not c["id"].startswith("adversarial.")]
    policy["model"] = {"path": str(model)}
    policy["data"]["path"] = "unused.parquet"
    policy["data"]["reference"] = str(train)
    path = folder / "scale.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


# Runs the command in a child and reports its wall time and the peak RSS of the largest process
# among it and its descendants (getrusage of children covers every descendant waited for).
PROBE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t0
sys.stderr.write(r.stderr[-3000:])
print(r.returncode, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run(policy: Path, data: Path, executor: str, workers: int, out: Path) -> dict:
    cmd = [sys.executable, "-c", PROBE, sys.executable, "-m", "audit", "run", str(policy), "--data", str(data),
           "--executor", executor, "--workers", str(workers), "--no-pdf", "--quiet", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    code, wall, peak = proc.stdout.split()
    code, wall, peak = int(code), float(wall), int(peak)
    if code not in (0, 1):
        raise SystemExit(f"audit run failed ({code}):\n{proc.stderr[-3000:]}")
    res = json.loads(max(out.glob("*/results.json"), key=lambda p: p.stat().st_mtime).read_text())
    m = res["manifest"]
    st = m["timings"]["passes"]
    rows = m["execution"]["rows"]
    return {"executor": executor, "workers": workers, "rows": rows, "wall_s": round(wall, 2),
            "rows_per_s": round(rows / wall), "peak_rss_mb": round(peak / 1024, 1),
            "checks_s": m["wall_time_s"], "sample_pass_s": st["sample_pass_s"],
            "summary_pass_s": st["summary_pass_s"], "predict_s": st["predict_s"], "task_s": st["task_s"],
            # Model time over the time the workers had: wall x workers.
            "predict_share": round(st["predict_s"] / (wall * workers), 3),
            # The same inside the partition tasks (the part that grows with rows).
            "predict_share_of_tasks": round(st["predict_s"] / max(st["task_s"], 1e-9), 3),
            "partitions": m["execution"]["partitions"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--executors", nargs="+", default=["local", "dask"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default=None, help="folder for data (default: a temporary folder)")
    args = ap.parse_args()
    from audit.data.demo import write_demo

    tmp = Path(args.work or tempfile.mkdtemp(prefix="bench-scale-"))
    paths = write_demo(tmp / "demo")
    policy = write_policy(tmp, paths["model"], paths["train"])
    out = []
    for rows in args.rows:
        t0 = time.perf_counter()
        data = write_data(tmp, rows)
        print(f"{rows:,} rows written in {time.perf_counter() - t0:.0f} s", flush=True)
        for ex in args.executors:
            r = run(policy, data, ex, args.workers, tmp / f"out-{rows}-{ex}")
            out.append(r)
            print(json.dumps(r), flush=True)
    print(f"\n{'rows':>11} {'executor':>8} {'wall s':>7} {'rows/s':>9} {'peak MB':>8} {'pass 2 s':>8} "
          f"{'predict s':>9} {'share':>6} {'in tasks':>8}")
    for r in out:
        print(f"{r['rows']:>11,} {r['executor']:>8} {r['wall_s']:>7.1f} {r['rows_per_s']:>9,} "
              f"{r['peak_rss_mb'] or 0:>8.0f} {r['summary_pass_s']:>8.1f} {r['predict_s']:>9.1f} "
              f"{r['predict_share']:>6.0%} {r['predict_share_of_tasks']:>8.0%}")
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(exist_ok=True)
    with open(res_dir / "bench_scale.json", "a") as fh:
        fh.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": out}) + "\n")


if __name__ == "__main__":
    main()
