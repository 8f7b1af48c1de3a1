"""Benchmark: the robustness policy (policies/robustness.yaml) at 100,000 holdout rows.

Writes the demo data (100,000 training/reference rows, 100,000 holdout rows) and
model to a temporary folder laid out like the repository (``demo-work/`` next to
``policies/``), runs the policy through the real runner, and prints the time per
evaluation set built, per prediction pass and per check, and how many times the
model was asked to predict each evaluation set (it must be once).

Run::

    /work/venv/bin/python benchmarks/bench_robustness.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="holdout rows (the reference has as many)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from audit.data.demo import write_demo
    from audit.models.adapter import ModelAdapter
    from audit.runner import RunOptions, run_policy_file

    calls: Counter = Counter()
    original = ModelAdapter.predict_all

    def counting(self, X, task):
        # Identify the evaluation set by a hash of its whole content (outside the timed model call).
        import pandas as pd

        calls[(len(X), int(pd.util.hash_pandas_object(X, index=False).to_numpy().sum()))] += 1
        return original(self, X, task)

    ModelAdapter.predict_all = counting
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        write_demo(tmp / "demo-work", seed=0, n_train=args.rows, n_test=args.rows)
        print(f"demo data + model written: {time.perf_counter() - t0:.1f} s ({args.rows:,} + {args.rows:,} rows)")
        (tmp / "policies").mkdir()
        shutil.copy(ROOT / "policies" / "robustness.yaml", tmp / "policies" / "robustness.yaml")
        t0 = time.perf_counter()
        res = run_policy_file(tmp / "policies" / "robustness.yaml", RunOptions(progress=False))
        wall = time.perf_counter() - t0
    ModelAdapter.predict_all = original

    timings = res.manifest["timings"]
    print(f"\nwhole audit: {wall:.1f} s wall ({len(res.results)} checks, {len(timings)} evaluation sets)\n")
    print(f"{'evaluation set':32s} {'rows':>8s} {'build s':>8s} {'predict s':>9s}")
    for name, t in timings.items():
        rows = res.evalsets.get(name, {}).get("rows", "")
        b, p = t.get("build_s"), t.get("predict_s")
        print(f"{name:32s} {rows!s:>8s} {'' if b is None else f'{b:8.3f}':>8s} {'' if p is None else f'{p:9.3f}':>9s}")
    n_pred = sum(1 for t in timings.values() if "predict_s" in t)
    print(f"\nmodel prediction passes: {sum(calls.values())} for {n_pred} predicted evaluation sets; "
          f"max passes per set: {max(calls.values()) if calls else 0}")
    print(f"\n{'check':34s} {'evaluation set':28s} {'s':>7s}  verdict  value")
    for r in res.results:
        v = "" if r.value is None else f"{r.value:.4g}"
        print(f"{r.id:34s} {r.evalset:28s} {r.duration_s:7.2f}  {r.verdict.value:7s}  {v}")
    print(f"\nsum of check times: {sum(r.duration_s for r in res.results):.1f} s; decision {res.summary.decision}")


if __name__ == "__main__":
    main()
