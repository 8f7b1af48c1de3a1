"""Validation of a weight column (``data.weight``): finite, non-negative, some positive.

The sample pass tallies each partition's problems (:func:`weight_tally`), the
tallies add up (:func:`merge_weight_tallies`), and :func:`weight_error` turns a
tally into the message of the :class:`~audit.errors.DataError` (exit code 2)
raised before any evaluation set is built.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["weight_tally", "merge_weight_tallies", "weight_error", "weight_problems"]

_KINDS = ("missing", "not a number", "negative", "infinite")


def weight_tally(s: pd.Series) -> dict:
    """Counts of each kind of bad weight in ``s``, positive weights, and a few bad values shown."""
    num = pd.to_numeric(s, errors="coerce")
    v = num.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = s.isna().to_numpy()
    not_number = np.isnan(v) & ~missing
    inf = np.isinf(v)
    neg = (v < 0) & ~inf
    bad = missing | not_number | inf | neg
    shown = [None if m else (str(x) if nn else float(y))
             for m, nn, x, y in zip(missing[bad][:5], not_number[bad][:5], s[bad][:5].tolist(), v[bad][:5], strict=True)]
    return {"rows": int(len(s)), "missing": int(missing.sum()), "not a number": int(not_number.sum()),
            "negative": int(neg.sum()), "infinite": int(inf.sum()), "positive": int((v > 0).sum()),
            "shown": shown}


def merge_weight_tallies(a: dict | None, b: dict) -> dict:
    """Two partitions' tallies added up (the first few bad values kept)."""
    if a is None:
        return dict(b)
    out = {k: a[k] + b[k] for k in ("rows", "positive", *_KINDS)}
    out["shown"] = (a["shown"] + b["shown"])[:5]
    return out


def weight_problems(s: pd.Series) -> dict | None:
    """The tally of ``s`` when it has a problem, else None."""
    t = weight_tally(s)
    return t if weight_error(t, "", "") else None


def weight_error(tally: dict, column: str, where) -> str | None:
    """The message naming what is wrong with the weights (None when nothing is)."""
    bad = [f"{tally[k]} {k}" for k in _KINDS if tally[k]]
    if bad:
        return (f"{where}: weight column {column!r} has {', '.join(bad)} value(s) (e.g. {tally['shown']}); "
                "expected a finite number >= 0 on every row")
    if tally["rows"] and not tally["positive"]:
        return f"{where}: weight column {column!r} is 0 on every row; expected some positive weights"
    return None
