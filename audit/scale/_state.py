"""What the checks of a streamed audit see: merged summaries of the whole table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.errors import CheckSkipped
from audit.scale._summaries import CellTable, Request
from audit.stats import group_codes

__all__ = ["StreamedState", "project_groups"]


@dataclass
class StreamedState:
    """Merged summaries (``ctx.summaries`` of a streamed check).

    Attributes
    ----------
    summaries : dict
        :class:`Request` -> merged summary.
    classes : ndarray
        Class labels, in the order of every confusion matrix.
    pos_label : object
    sensitive : list of str
        Sensitive columns, in the order of the fine-cell keys.
    all_columns : list of str
        Features then sensitive-only columns (missing-value counts).
    rows_by_set : dict
        Rows of each streamed evaluation set.
    covered : set of int
        Policy positions of the checks computed from summaries.
    """

    summaries: dict
    classes: np.ndarray
    pos_label: object
    sensitive: list[str]
    all_columns: list[str]
    rows_by_set: dict[str, int]
    covered: set[int] = field(default_factory=set)

    @property
    def pos_index(self) -> int:
        hits = np.flatnonzero(np.asarray(self.classes) == self.pos_label)
        return int(hits[0]) if hits.size else len(self.classes) - 1

    def covers(self, index: int) -> bool:
        return index in self.covered

    def get(self, kind: str, evalset: str, arg=None):
        """The merged summary ``kind`` of ``evalset``; CheckSkipped if it was not computed."""
        try:
            return self.summaries[Request(kind, evalset, arg)]
        except KeyError:
            raise CheckSkipped(f"no {kind} summary of evaluation set {evalset!r} in this streamed audit") from None

    def rows(self, evalset: str) -> int:
        return int(self.rows_by_set[evalset])

    def confusion(self, evalset: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole table's confusion matrix ``[true, predicted]`` and the classes."""
        k = len(self.classes)
        table = self.get("confusion", evalset)
        cm = sum(table.values()) if table else np.zeros(k * k, dtype=np.int64)
        return np.asarray(cm).reshape(k, k), np.asarray(self.classes)


def _project(table: CellTable, pos: list[int]) -> dict:
    out: dict = {}
    for key, v in table.items():
        sub = tuple(key[j] for j in pos)
        out[sub] = out[sub] + v if sub in out else v.copy()
    return out


def project_groups(table: CellTable, sensitive: list[str], cols: list[str], other: CellTable | None = None):
    """Counts of ``table`` (and ``other``) summed into the groups of ``cols``.

    Groups are labelled and ordered by :func:`audit.stats.group_codes`, as an
    in-memory check would label them. Returns ``(labels, counts[, other_counts])``,
    counts of shape ``(n_groups, ...)``.
    """
    pos = [sensitive.index(c) for c in cols]
    tables = [_project(table, pos)] + ([_project(other, pos)] if other is not None else [])
    keys = sorted(set().union(*tables))
    codes, names = group_codes(pd.DataFrame(keys, columns=cols), cols)
    shape = next(v for t in tables for v in t.values()).shape
    outs = []
    for t in tables:
        arr = np.zeros((len(names), *shape), dtype=np.int64)
        for key, code in zip(keys, codes, strict=True):
            if key in t:
                arr[code] += t[key]
        outs.append(arr)
    return (names, *outs)
