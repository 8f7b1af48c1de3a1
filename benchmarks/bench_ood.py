"""Time the OOD detectors: fit on a reference table, score an evaluation table.

Run: ``python benchmarks/bench_ood.py [--rows 10000 100000] [--no-alibi]``

On the demo credit data (10 features, 20 encoded columns; reference and
evaluation tables of ``--rows`` rows each) it times, per detector, the fit on
the encoded reference plus the scores of the encoded evaluation rows
(encoding timed separately, the same for every detector):

- ``audit.ood`` (scikit-learn): isolation forest, GMM, Mahalanobis, robust Mahalanobis;
- the alibi-detect backend (``make_alibi_detector``), when installed: isolation
  forest, GMM, and the online Mahalanobis detector audits used before (fit on at
  most 20,000 sampled rows, state restored per 2,000-row chunk).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.data.dataset import infer_feature_types  # noqa: E402
from audit.data.demo import FEATURES, make_credit_data  # noqa: E402
from audit.ood import StandardEncoder, make_alibi_detector, make_detector  # noqa: E402


def timed(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--no-alibi", action="store_true", help="skip the alibi-detect backend")
    args = ap.parse_args(argv)
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    for n in args.rows:
        data = make_credit_data(2 * n, seed=0)[FEATURES]
        ref, cur = data.iloc[:n], data.iloc[n:]
        types = infer_feature_types(ref)
        t_enc, (xr, x) = timed(lambda ref=ref, cur=cur, types=types: (
            (enc := StandardEncoder(types).fit(ref)).transform(ref), enc.transform(cur)), args.repeat)
        print(f"\n{n:,} reference rows, {n:,} scored rows, {xr.shape[1]} encoded columns "
              f"(encoding both: {t_enc:.3f} s)")
        runs = [("audit.ood", k, r, make_detector) for k, r in
                [("iforest", False), ("gmm", False), ("mahalanobis", False), ("mahalanobis", True)]]
        if not args.no_alibi:
            runs += [("alibi-detect", k, False, make_alibi_detector) for k in ("iforest", "gmm", "mahalanobis")]
        for backend, kind, robust, make in runs:
            # The online Mahalanobis takes seconds per run: once is enough to see it.
            rep = 1 if (backend == "alibi-detect" and kind == "mahalanobis") else args.repeat
            t, _ = timed(lambda make=make, kind=kind, robust=robust, xr=xr, x=x:
                         make(kind, seed=0, robust=robust).fit(xr).score(x), rep)
            name = kind + (" (robust)" if robust else "")
            print(f"  {backend:13s} {name:22s} fit + score {t:8.3f} s")


if __name__ == "__main__":
    main()
