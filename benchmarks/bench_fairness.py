"""Fairness checks with intervals against fairlearn's MetricFrame bootstrap, same data, same script.

    python benchmarks/bench_fairness.py [--sizes 70000 1000000] [--fairlearn-boot 20]

Data: the standard workload (../shared/bench/make_workload.py; sensitive ``sex`` and ``race``).
Predictions come from a logistic regression fitted on the first 50,000 rows (the model is not
what is timed). Ours: selection rate, demographic parity difference/ratio, equalized odds
difference, equal opportunity difference and predictive parity, for sex, race and their
intersection (``groups: both``), 1,000 bootstrap replicates each. fairlearn: one MetricFrame per
partition (sex, race, sex x race) with the same per-group metrics and ``n_boot`` replicates; at
1,000 replicates it would take tens of minutes, so it runs ``--fairlearn-boot`` replicates and
the time is scaled linearly to 1,000 (its cost is linear in replicates).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
CHECKS = ["fairness.selection_rate", "fairness.demographic_parity_difference",
          "fairness.demographic_parity_ratio", "fairness.equalized_odds_difference",
          "fairness.equal_opportunity_difference", "fairness.predictive_parity_difference"]


def _data(n: int, folder: Path) -> pd.DataFrame:
    subprocess.run([sys.executable, str(BENCH / "make_workload.py"), "--n-train", "50000", "--n-test", str(n),
                    "--out", str(folder)], check=True, capture_output=True)
    from sklearn.linear_model import LogisticRegression

    train = pd.read_parquet(next(folder.glob("train_*.parquet")))
    test = pd.read_parquet(next(folder.glob("test_*.parquet")))
    num = [c for c in train.columns if c.startswith("x")]
    model = LogisticRegression(max_iter=500).fit(train[num], train["y"])
    test["yhat"] = model.predict(test[num])
    return test


def ours(df: pd.DataFrame) -> float:
    from audit.checks import get_check
    from audit.context import AuditContext, AuditSettings
    from audit.data.dataset import Dataset

    ds = Dataset(X=df[["x0"]], y=df["y"].to_numpy(), sensitive=df[["sex", "race"]],
                 prediction=df["yhat"].to_numpy())
    ctx = AuditContext(AuditSettings(n_boot=1000, min_group_size=30), ds, None)
    t0 = time.perf_counter()
    for i, cid in enumerate(CHECKS):
        spec = get_check(cid)
        spec.func(ctx.for_check(cid, "base", i), spec.params.model_validate({"groups": "both"}))
    return time.perf_counter() - t0


def fairlearn(df: pd.DataFrame, n_boot: int) -> float:
    from fairlearn import metrics as fm
    from sklearn.metrics import precision_score

    metrics = {"selection_rate": fm.selection_rate, "tpr": fm.true_positive_rate,
               "fpr": fm.false_positive_rate,
               "precision": lambda a, b: precision_score(a, b, zero_division=0)}
    t0 = time.perf_counter()
    for cols in (["sex"], ["race"], ["sex", "race"]):
        fm.MetricFrame(metrics=metrics, y_true=df["y"], y_pred=df["yhat"], sensitive_features=df[cols],
                       n_boot=n_boot, ci_quantiles=[0.025, 0.975], random_state=0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[70_000, 1_000_000])
    ap.add_argument("--fairlearn-boot", type=int, default=20)
    args = ap.parse_args()
    print(f"{'rows':>9} {'ours, 6 checks x 1000 reps (s)':>32} {'fairlearn, 1000 reps (s, scaled)':>34} {'ratio':>7}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            df = _data(n, Path(tmp))
        t_ours = min(ours(df) for _ in range(2))
        t_fl = fairlearn(df, args.fairlearn_boot) * 1000 / args.fairlearn_boot
        print(f"{n:>9} {t_ours:>32.2f} {t_fl:>34.1f} {t_fl / t_ours:>7.0f}x", flush=True)
        del df


if __name__ == "__main__":
    main()
