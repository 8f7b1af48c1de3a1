"""Group structure of a fairness audit: fine cells and the partitions built from them.

Every row gets the code of its *fine cell*: the combination of all the named
sensitive columns. Sufficient statistics (confusion counts, sums) are computed
and bootstrapped once per fine cell; a marginal or intersectional partition is
a sum of fine cells. Bootstrapping the fine cells jointly keeps the replicates
of different partitions consistent, so "the worst over attributes" has a proper
bootstrap distribution.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.stats import group_codes

__all__ = ["Partition", "GroupStructure", "group_structure"]


@dataclass(frozen=True)
class Partition:
    """One way of splitting the rows: by one column (marginal) or several (intersectional).

    Attributes
    ----------
    columns : tuple of str
    labels : list of str
        ``col=value`` (joined with `` & `` for several columns), one per group.
    values : list of tuple of str
        The column values of each group, in ``columns`` order (for heatmaps).
    group_of : ndarray of shape (n_fine,)
        The group each fine cell belongs to (every fine cell belongs to exactly one).
    """

    columns: tuple[str, ...]
    labels: list[str]
    values: list[tuple[str, ...]]
    group_of: np.ndarray

    @property
    def member(self) -> np.ndarray:
        """0/1 matrix ``(n_groups, n_fine)``: which fine cells make each group."""
        m = np.zeros((len(self.labels), len(self.group_of)))
        m[self.group_of, np.arange(len(self.group_of))] = 1.0
        return m

    def aggregate(self, fine: np.ndarray) -> np.ndarray:
        """Sum fine-cell statistics ``(..., n_fine, k)`` into groups ``(..., n_groups, k)``.

        A segment sum over the fine cells sorted by group: linear in the cells (a dense 0/1
        matrix product is quadratic in the groups: 13 s for 1,000 groups and 1,000 bootstrap
        replicates, about 20 minutes and 1.6 GB for 10,000).
        """
        fine = np.asarray(fine)
        n_groups = len(self.labels)
        out = np.zeros((*fine.shape[:-2], n_groups, fine.shape[-1]), dtype=np.result_type(fine, np.float64))
        if not len(self.group_of):
            return out
        order = np.argsort(self.group_of, kind="stable")
        starts = np.searchsorted(self.group_of[order], np.arange(n_groups))
        present = np.diff(np.append(starts, len(order))) > 0  # every group has a cell; stay honest anyway
        sums = np.add.reduceat(np.take(fine, order, axis=-2), starts[present], axis=-2)
        out[..., present, :] = sums
        return out


@dataclass(frozen=True)
class GroupStructure:
    """Fine-cell code of every row and the partitions to audit."""

    codes: np.ndarray
    n_fine: int
    partitions: list[Partition]


def _partition_columns(columns: list[str], groups: str) -> list[tuple[str, ...]]:
    marginal = [(c,) for c in columns]
    if groups == "marginal" or len(columns) == 1:
        return marginal
    if groups == "intersectional":
        return [tuple(columns)]
    return [*marginal, tuple(columns)]


# A tiny cache: several fairness checks in one audit share an evaluation set,
# and coding a million string values is the only per-row cost they have.
_CACHE: dict[tuple, tuple[weakref.ref, tuple]] = {}


def _column_codes(owner, frame: pd.DataFrame, col: str, missing: str):
    key = (id(owner), col, missing)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is owner:
        return hit[1]
    codes, labels = group_codes(frame, [col], missing=missing)
    values = [lab.split("=", 1)[1] for lab in labels]
    out = (codes, values)
    if owner is not None:
        if len(_CACHE) > 32:
            _CACHE.clear()
        try:
            _CACHE[key] = (weakref.ref(owner), out)
        except TypeError:  # not weak-referenceable: no caching
            pass
    return out


def group_structure(frame: pd.DataFrame, columns: list[str], groups: str = "marginal",
                    missing: str = "group", owner=None) -> GroupStructure:
    """Fine cells and partitions for ``columns`` of ``frame``.

    Parameters
    ----------
    frame : DataFrame
        Sensitive attributes, one row per evaluated row.
    columns : list of str
        The sensitive columns to audit.
    groups : {"marginal", "intersectional", "both"}
    missing : {"group", "error"}
        Missing values form a ``<missing>`` group, or raise ``ValueError``.
    owner : object, optional
        The evaluation set the frame belongs to; per-column codes are cached on it.
    """
    per_col = [_column_codes(owner, frame, c, missing) for c in columns]
    combined = np.zeros(len(frame), dtype=np.int64)
    for codes, values in per_col:
        combined = combined * len(values) + codes
    present, fine = np.unique(combined, return_inverse=True)
    # Decode each present fine cell into its per-column value index.
    idx = np.empty((len(present), len(columns)), dtype=np.int64)
    rest = present.copy()
    for j in range(len(columns) - 1, -1, -1):
        size = len(per_col[j][1])
        idx[:, j] = rest % size
        rest //= size
    parts = []
    for cols in _partition_columns(columns, groups):
        pos = [columns.index(c) for c in cols]
        keys, inverse = np.unique(idx[:, pos], axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1).astype(np.int64)
        values = [tuple(per_col[p][1][k] for p, k in zip(pos, key, strict=True)) for key in keys]
        labels = [" & ".join(f"{c}={v}" for c, v in zip(cols, vals, strict=True)) for vals in values]
        parts.append(Partition(tuple(cols), labels, values, inverse))
    return GroupStructure(fine.astype(np.int64).reshape(-1), len(present), parts)
