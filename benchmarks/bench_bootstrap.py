"""Time the count and histogram bootstraps of the performance checks (1,000 replicates).

Run: ``python benchmarks/bench_bootstrap.py [--rows 10000 100000 1000000] [--boot 1000]``

For each size it times, on synthetic binary predictions:

- building the 2x2 confusion counts (one bincount over the rows) and bootstrapping
  the five confusion metrics (accuracy, balanced accuracy, precision, recall, F1)
  from 1,000 multinomial draws of the counts;
- building the per-class score histograms (one sort) and bootstrapping ROC AUC
  from them; the exact point AUC (scikit-learn) separately;
- the checks end to end (``performance.accuracy``, ``performance.roc_auc``) in a
  predictions-only audit context;
- for scale, a plain row bootstrap of ROC AUC with scikit-learn, timed on a few
  replicates and extrapolated to the same number of replicates.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.checks import get_check  # noqa: E402
from audit.checks.performance import (  # noqa: E402
    MAX_BINS,
    _accuracy,
    _balanced_accuracy,
    _prf_metric,
)
from audit.context import AuditContext, AuditSettings  # noqa: E402
from audit.data.dataset import Dataset  # noqa: E402
from audit.stats import (  # noqa: E402
    auc_from_counts,
    bootstrap_counts,
    class_score_counts,
    confusion_matrix_counts,
)


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    score = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * y - 0.5)))
    return y, (score > 0.5).astype(np.int64), score


def timed(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench(n: int, n_boot: int) -> dict:
    y, pred, score = synthetic(n)
    classes = np.array([0, 1])

    class _P:  # the params the precision/recall/F1 builders read
        average = "binary"

    class _Ctx:
        pos_label = 1

    metrics = [_accuracy, _balanced_accuracy] + [
        _prf_metric(k)(_Ctx, classes, _P)[0] for k in ("precision", "recall", "f1")]
    t_cm, cm = timed(lambda: confusion_matrix_counts(y, pred, classes))

    def count_boot():
        reps = bootstrap_counts(cm.ravel(), n_boot, np.random.default_rng(0)).reshape(n_boot, 2, 2)
        return [m(reps) for m in metrics]

    t_cb, _ = timed(count_boot)
    t_hist, (counts, _) = timed(lambda: class_score_counts(score, y == 1, MAX_BINS))

    def auc_boot():
        reps = bootstrap_counts(counts.ravel(), n_boot, np.random.default_rng(0))
        return auc_from_counts(reps.reshape(n_boot, 2, -1))

    t_ab, _ = timed(auc_boot)
    from sklearn.metrics import roc_auc_score

    t_auc, _ = timed(lambda: roc_auc_score(y, score), repeat=1)

    ds = Dataset(X=pd.DataFrame({"x": np.zeros(n)}), y=y, sensitive=pd.DataFrame(index=range(n)),
                 prediction=pred, score=score)
    ctx = AuditContext(settings=AuditSettings(seed=0, n_boot=n_boot), dataset=ds, model=None)
    e2e = {}
    for cid in ("performance.accuracy", "performance.roc_auc"):
        spec = get_check(cid)
        e2e[cid], _ = timed(lambda spec=spec: spec.func(ctx.for_check(spec.id, "base", 0), spec.params()),
                            repeat=1)

    k = 5 if n <= 100_000 else 2  # row-bootstrap replicates actually run, extrapolated
    rng = np.random.default_rng(1)

    def rows():
        for _ in range(k):
            i = rng.integers(0, n, n)
            roc_auc_score(y[i], score[i])

    t_rows, _ = timed(rows, repeat=1)
    return {"rows": n, "cm": t_cm, "cm_boot": t_cb, "hist": t_hist, "auc_boot": t_ab, "auc_exact": t_auc,
            "acc_check": e2e["performance.accuracy"], "auc_check": e2e["performance.roc_auc"],
            "row_boot_est": t_rows / k * n_boot}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args(argv)
    cols = [("rows", "rows"), ("cm", "counts"), ("cm_boot", "5 metrics boot"), ("hist", "AUC hist"),
            ("auc_boot", "AUC boot"), ("auc_exact", "AUC exact"), ("acc_check", "accuracy check"),
            ("auc_check", "roc_auc check"), ("row_boot_est", "row boot AUC (est.)")]
    print(f"Bootstrap timings in seconds, {args.boot} replicates (best of 3 where repeated)")
    print(" | ".join(f"{h:>14}" for _, h in cols))
    for n in args.rows:
        r = bench(n, args.boot)
        print(" | ".join(f"{r[k]:>14,}" if k == "rows" else f"{r[k]:>14.3f}" for k, _ in cols), flush=True)


if __name__ == "__main__":
    main()
