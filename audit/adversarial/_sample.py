"""The rows an attack runs on: a seeded sample stratified by label and sensitive group."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["stratified_sample"]


def stratified_sample(y, sensitive: pd.DataFrame | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions of a proportional sample stratified by label x sensitive groups.

    Each stratum (label crossed with every sensitive column) gets its share of
    ``size`` by largest remainder, at least one row when it is present, so
    small groups are represented and the overall rate stays unbiased. All rows
    when ``size`` is at least the number of rows. Sorted positions.

    Parameters
    ----------
    y : array-like of shape (n,) or None
    sensitive : DataFrame or None
    size : int
    rng : numpy Generator
    """
    n = len(y) if y is not None else len(sensitive)
    if size >= n:
        return np.arange(n)
    keys = [pd.Series(np.asarray(y)).astype(str).to_numpy()] if y is not None else []
    if sensitive is not None:
        keys += [sensitive[c].astype(str).to_numpy() for c in sensitive.columns]
    if not keys:
        return np.sort(rng.choice(n, size=size, replace=False))
    strata = pd.MultiIndex.from_arrays(keys).codes if len(keys) > 1 else [pd.factorize(keys[0])[0]]
    code = np.zeros(n, dtype=np.int64)
    for c in strata:
        code = code * (int(np.max(c)) + 1) + np.asarray(c, dtype=np.int64)
    uniq, inv = np.unique(code, return_inverse=True)
    counts = np.bincount(inv)
    quota = counts * size / n
    alloc = np.maximum(np.floor(quota).astype(int), 1)
    alloc = np.minimum(alloc, counts)
    # Largest remainder: hand out (or take back) the rows the floor left over.
    left = size - alloc.sum()
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    i = 0
    while left != 0 and i < 10 * len(order):
        k = order[i % len(order)]
        if left > 0 and alloc[k] < counts[k]:
            alloc[k] += 1
            left -= 1
        elif left < 0 and alloc[k] > 1:
            alloc[k] -= 1
            left += 1
        i += 1
    picked = [rng.choice(np.flatnonzero(inv == s), size=alloc[s], replace=False) for s in range(len(uniq))]
    return np.sort(np.concatenate(picked))
