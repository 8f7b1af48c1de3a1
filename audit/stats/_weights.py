"""Weighted audits: row counts with their weight sums, and the weighted count bootstrap.

A weighted audit (``data.weight``) estimates every metric with each row counted
``w`` times: a rate is ``sum(w over the numerator's rows) / sum(w over the
denominator's rows)``, a mean loss ``sum(w * loss) / sum(w)``. The weighted
summaries (:mod:`audit.stats.summaries`, kinds ``w:<kind>``) keep per cell the row
count and the exact sums of ``w`` and ``w**2`` (and of ``w * x`` for averaged
quantities), so point values are exact whatever the partitioning.

The bootstrap still resamples *rows*: a replicate draws each cell's row count
from the same multinomial as the unweighted count bootstrap, and then carries
the cell's weight. Given ``m`` rows drawn from a cell whose ``n`` rows have
weight mean ``mu`` and (population) variance ``s2``, the weight total of a row
bootstrap has mean ``m * mu`` and variance ``m * s2``; a replicate uses
``m * mu + sqrt(m * s2) * Z`` with ``Z`` standard normal (clipped at zero).
That reproduces the first two moments of a weighted row bootstrap exactly
given the drawn counts; only the shape of the within-cell weight distribution
beyond its variance is approximated (by a normal), which matters little because
a statistic sums over many rows. With every weight equal the normal term
vanishes and the replicates are the unweighted ones times the weight.

Per-group proportions get a Wilson interval on Kish's effective sample size
``(sum w)**2 / sum w**2`` (:func:`wilson_kish`): with equal weights it is the
Wilson interval itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.stats._bootstrap import bootstrap_counts
from audit.stats._histograms import BinnedMoments
from audit.stats._intervals import wilson_interval

__all__ = ["Tally", "carry_weights", "kish_n", "wilson_kish", "binned_from_sums", "tally_of", "table_tallies",
           "total_tally", "project_tallies"]


def carry_weights(drawn: np.ndarray, n: np.ndarray, w: np.ndarray, w2: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Weighted replicates of cell totals from drawn row counts (see the module docstring).

    Parameters
    ----------
    drawn : ndarray, shape (B, *cells)
        Row counts of each replicate (:func:`audit.stats.bootstrap_counts`).
    n, w, w2 : ndarray, shape cells
        Observed rows, weight sum and squared-weight sum per cell.
    rng : numpy Generator

    Returns
    -------
    ndarray of float64, shape (B, *cells)
    """
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 1.0)
    mu = np.where(n > 0, np.asarray(w, dtype=np.float64) / safe, 0.0)
    var = np.where(n > 0, np.clip(np.asarray(w2, dtype=np.float64) / safe - mu * mu, 0.0, None), 0.0)
    m = np.asarray(drawn, dtype=np.float64)
    out = m * mu
    if np.any(var > 0):
        out += np.sqrt(m * var) * rng.standard_normal(m.shape)
        np.clip(out, 0.0, None, out=out)
    return out


@dataclass(frozen=True)
class Tally:
    """Row counts of some cells and, in a weighted audit, their weight sums.

    Attributes
    ----------
    n : ndarray of int64
        Rows per cell (any shape; a leading group axis is resampled per group).
    w, w2 : ndarray of float or None
        Sums of the weights and of their squares per cell; None in an unweighted audit.
    """

    n: np.ndarray
    w: np.ndarray | None = None
    w2: np.ndarray | None = None

    @property
    def weighted(self) -> bool:
        return self.w is not None

    @property
    def point(self) -> np.ndarray:
        """What a metric is computed from: the row counts, or the weight sums when weighted."""
        return self.n if self.w is None else self.w

    def map(self, fn) -> Tally:
        """``fn`` (a linear map: reshape, sum, index) applied to the counts and the weight sums."""
        return Tally(fn(self.n), None if self.w is None else fn(self.w), None if self.w2 is None else fn(self.w2))

    def resample(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap replicates ``(n_boot, *shape)``: the multinomial count bootstrap
        (:func:`audit.stats.bootstrap_counts`; 1-D, or per group for 2-D), carrying the weights
        when weighted. Unweighted, it is exactly ``bootstrap_counts(n, n_boot, rng)``."""
        drawn = bootstrap_counts(self.n, n_boot, rng)
        if self.w is None:
            return drawn
        return carry_weights(drawn, self.n, self.w, self.w2, rng)


def kish_n(w, w2):
    """Kish's effective sample size ``(sum w)**2 / sum w**2`` (0 where there is no weight)."""
    w = np.asarray(w, dtype=np.float64)
    w2 = np.asarray(w2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w2 > 0, w * w / np.where(w2 > 0, w2, 1.0), 0.0)


def wilson_kish(kw, nw, nw2, level: float = 0.95):
    """Wilson interval of the weighted proportion ``kw / nw`` on Kish's effective size of the
    denominator's rows (``nw2``: their squared-weight sum)."""
    kw = np.asarray(kw, dtype=np.float64)
    nw = np.asarray(nw, dtype=np.float64)
    ne = kish_n(nw, nw2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(nw > 0, kw / np.where(nw > 0, nw, 1.0), np.nan)
    return wilson_interval(p * ne, ne, level)


def binned_from_sums(counts: np.ndarray, first: np.ndarray, second: np.ndarray) -> BinnedMoments:
    """:class:`~audit.stats.BinnedMoments` from per-cell row counts ``(K,)``, sums of a per-row
    vector ``(K, d)`` and sums of its outer products ``(K, d, d)``; empty cells dropped."""
    counts = np.asarray(counts, dtype=np.int64)
    safe = np.maximum(counts, 1).astype(np.float64)
    means = first / safe[:, None]
    cov = second / safe[:, None, None] - means[:, :, None] * means[:, None, :]
    ev, vec = np.linalg.eigh(cov)
    roots = vec * np.sqrt(np.clip(ev, 0.0, None))[:, None, :]
    keep = counts > 0
    return BinnedMoments(counts[keep], means[keep], roots[keep])


# -- tallies from summaries ----------------------------------------------------------------------

def tally_of(counts, weighted=None) -> Tally:
    """A :class:`Tally` from a count array and its weighted twin (a
    :class:`~audit.stats.summaries.WeightedCounts`, or None when the audit is unweighted)."""
    if weighted is None:
        return Tally(np.asarray(counts))
    v = weighted.values()
    return Tally(np.asarray(counts), v[:, 0].reshape(np.shape(counts)), v[:, 1].reshape(np.shape(counts)))


def table_tallies(table, wtable=None) -> dict:
    """``{fine cell key: Tally}`` of a cell table of counts and its weighted twin (or None)."""
    if wtable is None:
        return {k: Tally(np.asarray(v)) for k, v in table.items()}
    return {k: tally_of(v, wtable[k]) for k, v in table.items()}


def total_tally(table, wtable=None, size: int | None = None) -> Tally:
    """The :class:`Tally` of a whole cell table (every fine cell added). Weight sums are added
    exactly (:class:`~audit.stats.summaries.ExactSums`) and rounded once, so the result does not
    depend on the order the partitions' cells arrived in."""
    keys = sorted(table)
    if not keys:
        z = np.zeros(size or 0, dtype=np.int64)
        return Tally(z, None if wtable is None else z.astype(float), None if wtable is None else z.astype(float))
    n = np.asarray(table[keys[0]]).copy()
    for k in keys[1:]:
        n = n + np.asarray(table[k])
    if wtable is None:
        return Tally(n)
    return tally_of(n, _exact_sum([wtable[k] for k in keys]))


def _exact_sum(items: list):
    out = items[0].copy()
    for x in items[1:]:
        out = out + x
    return out


def project_tallies(table, wtable, sensitive: list[str], cols: list[str]) -> tuple[list[str], Tally]:
    """The cell table summed into the groups of ``cols`` (labels as
    :func:`audit.stats.group_codes` names them): ``(labels, Tally of shape (n_groups, ...))``.
    Weight sums are added exactly per group and rounded once."""
    import pandas as pd

    from audit.stats._counts import group_codes

    pos = [sensitive.index(c) for c in cols]
    if not table:
        return [], Tally(np.zeros((0, 0), dtype=np.int64))
    members: dict = {}
    for key in sorted(table):
        members.setdefault(tuple(key[j] for j in pos), []).append(key)
    keys = sorted(members)
    codes, names = group_codes(pd.DataFrame(keys, columns=cols), cols)
    by_code: dict = {}
    for key, code in zip(keys, codes, strict=True):
        by_code.setdefault(int(code), []).extend(members[key])
    shape = np.asarray(table[members[keys[0]][0]]).shape
    n = np.zeros((len(names), *shape), dtype=np.int64)
    w = None if wtable is None else np.zeros((len(names), *shape))
    w2 = None if wtable is None else np.zeros((len(names), *shape))
    for code, ks in by_code.items():
        for k in ks:
            n[code] += np.asarray(table[k])
        if wtable is not None:
            t = tally_of(n[code], _exact_sum([wtable[k] for k in sorted(ks)]))
            w[code], w2[code] = t.w, t.w2
    return names, Tally(n, w, w2)
