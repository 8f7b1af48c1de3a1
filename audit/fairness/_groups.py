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
    member : ndarray of shape (n_groups, n_fine)
        0/1 matrix: which fine cells make each group.
    """

    columns: tuple[str, ...]
    labels: list[str]
    values: list[tuple[str, ...]]
    member: np.ndarray

    def aggregate(self, fine: np.ndarray) -> np.ndarray:
        """Sum fine-cell statistics ``(..., n_fine, k)`` into groups ``(..., n_groups, k)``."""
        return np.einsum("gf,...fk->...gk", self.member, fine)


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
        inverse = np.asarray(inverse).reshape(-1)
        member = np.zeros((len(keys), len(present)))
        member[inverse, np.arange(len(present))] = 1.0
        values = [tuple(per_col[p][1][k] for p, k in zip(pos, key, strict=True)) for key in keys]
        labels = [" & ".join(f"{c}={v}" for c, v in zip(cols, vals, strict=True)) for vals in values]
        parts.append(Partition(tuple(cols), labels, values, member))
    return GroupStructure(fine.astype(np.int64).reshape(-1), len(present), parts)
