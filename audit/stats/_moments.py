"""Regression errors from mergeable moments: exact point values, binned-moment bootstrap.

A ``moments`` summary (:mod:`audit.stats.summaries`) holds, per fine sensitive
cell and per |error| bin, the row count and the exact sums of per-row
statistics and of their pairwise products. From them:

- point values are exact: MAE, MSE and R^2 are ratios of exact sums, evaluated
  in rational arithmetic and rounded once (``1 - SSE / SST`` has no
  cancellation error even when the target's mean dwarfs its spread);
- bootstrap replicates come from :func:`audit.stats.bootstrap_binned_means` on
  the per-bin means and within-bin covariances, which reproduce the first two
  moments of a row bootstrap exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from audit.stats._histograms import BinnedMoments

__all__ = ["REGRESSION_COLUMNS", "PAIRED_COLUMNS", "MomentSummary", "moments_of", "group_moments"]

REGRESSION_COLUMNS = ("abs_error", "sq_error", "y", "y2", "pred")
PAIRED_COLUMNS = ("abs_error_base", "sq_error_base", "abs_error", "sq_error", "y", "y2")


@dataclass
class MomentSummary:
    """Moments of one set of rows (a whole evaluation set or one group)."""

    counts: np.ndarray  # rows per error bin
    sums: object  # ExactSums over the error bins: the d stats, then products i <= j
    columns: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def binned(self) -> BinnedMoments:
        """Per-bin count, means and within-bin covariance root, for the bootstrap."""
        d = self.d
        vals = self.sums.values()[:len(self.counts)]
        safe = np.maximum(self.counts, 1)[:, None]
        means = vals[:, :d] / safe
        second = np.zeros((len(self.counts), d, d))
        k = d
        for i in range(d):
            for j in range(i, d):
                second[:, i, j] = second[:, j, i] = vals[:, k] / safe[:, 0]
                k += 1
        cov = second - means[:, :, None] * means[:, None, :]
        w, v = np.linalg.eigh(cov)
        roots = v * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
        keep = self.counts > 0
        return BinnedMoments(self.counts[keep].astype(np.int64), means[keep], roots[keep])

    def exact_sums(self) -> dict[str, Fraction]:
        return dict(zip(self.columns, self.sums.fractions()[:self.d], strict=True))

    def exact_means(self) -> dict[str, float]:
        """Each statistic's mean over the rows, exact and rounded once."""
        n = self.n
        return {c: float(v / n) if n else float("nan") for c, v in self.exact_sums().items()}

    def exact_r2(self, sq: str = "sq_error") -> float:
        """1 - SSE / SST from exact sums (NaN when the target is constant)."""
        s, n = self.exact_sums(), self.n
        sst = s["y2"] - s["y"] * s["y"] / n if n else Fraction(0)
        return float(1 - s[sq] / sst) if sst else float("nan")

    def error_chart(self) -> dict:
        """Rows per |error| bin (log2 scale), for the report."""
        from audit.stats.summaries import ERROR_BINS

        nz = np.flatnonzero(self.counts)
        lo = int(nz.min()) if len(nz) else 0
        hi = int(nz.max()) + 1 if len(nz) else 1
        edges = [0.0 if b == 0 else 2.0 ** ((b - 1) / 2.0 - 40.0) for b in range(lo, hi + 1)]
        if hi == ERROR_BINS:
            edges[-1] = edges[-2] * np.sqrt(2.0)
        return {"kind": "histogram", "title": "Absolute error (prediction - target)", "xlabel": "|error|",
                "edges": edges, "series": [{"name": "rows", "counts": [int(c) for c in self.counts[lo:hi]]}]}


def moments_of(table, columns: tuple[str, ...] = REGRESSION_COLUMNS) -> MomentSummary:
    """The moments of a whole set from a ``moments`` (or ``paired_moments``) cell table."""
    total = table.total()
    if total is None:
        raise ValueError("no rows in this evaluation set")
    return MomentSummary(total.counts, total.sums, columns)


def group_moments(table, sensitive: list[str], cols: list[str],
                  columns: tuple[str, ...] = REGRESSION_COLUMNS) -> tuple[list[str], list[MomentSummary]]:
    """Moments per group of ``cols`` (labels as :func:`audit.stats.group_codes` names them)."""
    import pandas as pd

    from audit.stats import group_codes

    pos = [sensitive.index(c) for c in cols]
    merged: dict = {}
    for key, m in table.items():
        sub = tuple(key[j] for j in pos)
        merged[sub] = merged[sub] + m if sub in merged else m.copy()
    keys = sorted(merged)
    codes, names = group_codes(pd.DataFrame(keys, columns=cols), cols)
    out: list = [None] * len(names)
    for key, code in zip(keys, codes, strict=True):
        out[code] = merged[key] if out[code] is None else out[code] + merged[key]
    return names, [MomentSummary(m.counts, m.sums, columns) for m in out]
