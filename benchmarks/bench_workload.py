"""The standard workload (../shared/bench) audited end to end, to set beside other tools' times.

For each size it makes the seeded workload with ``make_workload.py``, trains the
HistGradientBoosting pipeline the workload's README describes (one-hot sex and race,
``max_iter=200, random_state=0``), saves it with skops, writes a policy of the checks the
other tools cover (performance, fairness with intervals for sex, race and their
intersection, drift, data checks, a noise perturbation) and times the whole
``audit run`` process, single-threaded (``OMP_NUM_THREADS=1``), as the other tools were.

    python benchmarks/bench_workload.py [--sizes 7000 70000 280000] [--pdf]

Training is timed apart: it is the user's model, not the audit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
THEIRS = {  # seconds, from ../shared/bench/README.md
    7000: {"Deepchecks": 47, "Giskard": 13.5, "Evidently": 5.8, "fairlearn": 26, "Aequitas": 6.0},
    70000: {"Deepchecks": 146, "Giskard": 31, "Evidently": 8.3, "fairlearn": 155, "Aequitas": 7.1},
    280000: {"Deepchecks": 225, "Giskard": 89, "Evidently": 19.9, "fairlearn": 584, "Aequitas": 10.6},
}

POLICY = """\
version: 1
name: bench-workload
model: {{path: model.skops, trust: true}}
data: {{path: {test}, target: y, sensitive: [sex, race], reference: {train}}}
defaults: {{n_boot: 1000, min_group_size: 30}}
checks:
  - {{id: performance.accuracy, threshold: {{min: 0.6}}}}
  - {{id: performance.balanced_accuracy, threshold: {{min: 0.6}}}}
  - {{id: performance.precision, threshold: {{min: 0.5}}}}
  - {{id: performance.recall, threshold: {{min: 0.5}}}}
  - {{id: performance.f1, threshold: {{min: 0.5}}}}
  - {{id: performance.roc_auc, threshold: {{min: 0.7}}}}
  - {{id: performance.log_loss, threshold: {{max: 0.7}}}}
  - {{id: performance.brier_score, threshold: {{max: 0.25}}}}
  - {{id: performance.expected_calibration_error, threshold: {{max: 0.05}}}}
  - {{id: fairness.selection_rate, params: {{sensitive: [sex, race], groups: both}}, threshold: {{min: 0.05}}}}
  - {{id: fairness.demographic_parity_ratio, params: {{sensitive: [sex, race], groups: both}}, threshold: {{min: 0.8}}}}
  - {{id: fairness.demographic_parity_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.equalized_odds_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.equal_opportunity_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.false_positive_rate_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.predictive_parity_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.accuracy_difference, params: {{sensitive: [sex, race], groups: both}}, threshold: {{max: 0.1}}}}
  - {{id: fairness.calibration_difference, params: {{sensitive: [sex, race]}}, threshold: {{max: 0.1}}}}
  - {{id: shift.feature_drift, threshold: {{max: 0.2}}}}
  - {{id: data.train_test_duplicates, threshold: {{max: 0.01}}}}
  - {{id: data.single_feature_leakage, threshold: {{max: 0.95}}}}
  - {{id: data.class_balance, threshold: {{min: 0.1}}}}
  - {{id: data.missing_values, threshold: {{max: 0.05}}}}
  - {{id: robustness.metric_drop, evalset: perturbed.noise@0.1, params: {{metric: accuracy}}, threshold: {{max: 0.05}}}}
  - {{id: robustness.flip_rate, evalset: perturbed.noise@0.1, threshold: {{max: 0.1}}}}
"""


def _train(train_path: Path, out: Path) -> float:
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    t0 = time.perf_counter()
    df = pd.read_parquet(train_path)
    X, y = df.drop(columns="y"), df["y"]
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"])],
                            remainder="passthrough")
    model = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=200, random_state=0))])
    model.fit(X, y)
    sio.dump(model, out)
    return time.perf_counter() - t0


def run(size: int, folder: Path, pdf: bool) -> dict:
    n_train, n_test = size * 5 // 7, size * 2 // 7
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(BENCH / "make_workload.py"), "--n-train", str(n_train), "--n-test",
                    str(n_test), "--out", str(folder)], check=True, env=env, capture_output=True)
    tag = f"n{n_train + n_test}"
    train, test = folder / f"train_{tag}.parquet", folder / f"test_{tag}.parquet"
    fit_s = _train(train, folder / "model.skops")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY.format(test=test, train=train))
    cmd = [sys.executable, "-m", "audit", "run", str(policy), "--out", str(folder / "reports"), "--quiet"]
    if not pdf:
        cmd.append("--no-pdf")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr)
    import json

    res = json.loads(next((folder / "reports").glob("*/results.json")).read_text())
    slow = sorted(res["results"], key=lambda r: -r["duration_s"])[:3]
    return {"rows": size, "fit_s": fit_s, "audit_s": wall, "runner_s": res["manifest"]["wall_time_s"],
            "counts": {k: v for k, v in res["summary"]["counts"].items() if v},
            "slowest": ", ".join(f"{r['id']} {r['duration_s']:.1f}s" for r in slow)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[7000, 70000, 280000])
    ap.add_argument("--pdf", action="store_true", help="also render the PDF (default: HTML, JSON, JUnit)")
    args = ap.parse_args()
    print(f"{'rows':>8} {'fit (s)':>8} {'audit (s)':>10} {'checks (s)':>10}   others (s)")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            r = run(size, Path(tmp), args.pdf)
        others = THEIRS.get(size, {})
        print(f"{r['rows']:>8} {r['fit_s']:>8.1f} {r['audit_s']:>10.1f} {r['runner_s']:>10.1f}   "
              + ", ".join(f"{k} {v}" for k, v in others.items()), flush=True)
        print(f"{'':>8} verdicts {r['counts']}; slowest: {r['slowest']}", flush=True)


if __name__ == "__main__":
    main()
