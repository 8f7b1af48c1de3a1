"""Time the drift tests: per-feature tests on scipy vs through alibi-detect, and the backend's
multivariate tests.

Run: ``python benchmarks/bench_drift.py [--rows 10000 100000] [--mv-rows 500 1000 2000] [--no-alibi]``

- Per-feature tests (``audit.drift.feature_tests``, KS and CvM; chi-square on the
  categorical columns) on the demo credit data, reference and current tables of
  ``--rows`` rows, the current one with income scaled by 1.1; the same through
  alibi-detect's ``KSDrift`` / ``CVMDrift`` / ``ChiSquareDrift``
  (``alibi_feature_tests``), and whether both give the same numbers.
- alibi-detect's multivariate tests (``alibi_multivariate_drift``: MMD and LSDD on
  its PyTorch backend with 100 permutations, the classifier test with the
  scikit-learn backend) on the encoded tables, ``--mv-rows`` rows per side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.data.dataset import infer_feature_types  # noqa: E402
from audit.data.demo import FEATURES, make_credit_data  # noqa: E402
from audit.drift import alibi_feature_tests, alibi_multivariate_drift, feature_tests  # noqa: E402
from audit.ood import StandardEncoder  # noqa: E402


def tables(n: int):
    data = make_credit_data(2 * n, seed=0)[FEATURES]
    ref, cur = data.iloc[:n].reset_index(drop=True), data.iloc[n:].reset_index(drop=True)
    return ref, cur.assign(income=cur["income"] * 1.1), infer_feature_types(ref)


def once(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--mv-rows", type=int, nargs="*", default=[500, 1000, 2000],
                    help="rows per side for the multivariate tests (MMD is O(n^2) per permutation)")
    ap.add_argument("--no-alibi", action="store_true", help="skip alibi-detect")
    args = ap.parse_args(argv)
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    for n in args.rows:
        ref, cur, types = tables(n)
        print(f"\n{n:,} rows per side, {ref.shape[1]} features")
        for test in ("ks", "cvm"):
            t, ours = once(lambda test=test, ref=ref, cur=cur, types=types:
                           feature_tests(ref, cur, types, test))
            line = f"  {test:4s} scipy {t:7.3f} s"
            if not args.no_alibi:
                alibi_feature_tests(ref.iloc[:50], cur.iloc[:50], types, test)  # import outside the timing
                ta, theirs = once(lambda test=test, ref=ref, cur=cur, types=types:
                                  alibi_feature_tests(ref, cur, types, test))
                line += f"   alibi-detect {ta:7.3f} s   same numbers: {ours == theirs}"
            print(line)
    if args.no_alibi or not args.mv_rows:
        return
    print("\nmultivariate tests (alibi-detect backend), encoded demo tables:")
    for n in args.mv_rows:
        ref, cur, types = tables(n)
        enc = StandardEncoder(types).fit(ref)
        xr, x = enc.transform(ref), enc.transform(cur)
        for method in ("classifier", "lsdd", "mmd"):
            t, r = once(lambda method=method, xr=xr, x=x: alibi_multivariate_drift(xr, x, method, seed=0))
            print(f"  {n:6,} rows/side {method:10s} {t:8.2f} s   statistic {r.statistic:.4g}  p {r.p_value:.3g}")


if __name__ == "__main__":
    main()
