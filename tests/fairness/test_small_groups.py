"""A small group is named once, with the count the size rule used (the metric's own denominator)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from audit.checks import get_check
from audit.context import AuditContext, AuditSettings
from audit.data.dataset import Dataset


def _data() -> pd.DataFrame:
    # race=Asian has 60 rows but only 23 negatives: large enough for a rate over all its rows,
    # too small (min_group_size 30) for its false positive rate, whose denominator is the negatives.
    rng = np.random.default_rng(0)
    parts = []
    for race, n, negatives in (("White", 900, 400), ("Black", 400, 180), ("Asian", 60, 23)):
        y = np.r_[np.zeros(negatives, int), np.ones(n - negatives, int)]
        yhat = (rng.random(n) < np.where(y == 1, 0.7, 0.2)).astype(int)
        parts.append(pd.DataFrame({"race": race, "sex": rng.choice(["F", "M"], n), "y": y, "yhat": yhat,
                                   "score": rng.random(n)}))
    return pd.concat(parts, ignore_index=True)


def _measure(df: pd.DataFrame, cid: str, **params):
    ds = Dataset(X=df[["score"]], y=df["y"].to_numpy(), sensitive=df[["race"]], prediction=df["yhat"].to_numpy(),
                 score=df["score"].to_numpy())
    ctx = AuditContext(AuditSettings(seed=0, n_boot=50, min_group_size=30, task="classification"), ds, None)
    spec = get_check(cid)
    return spec.func(ctx.for_check(cid, "base", 0), spec.params.model_validate({"sensitive": ["race"], **params}))


def test_small_group_message_quotes_the_denominator_the_rule_used():
    df = _data()
    m = _measure(df, "fairness.false_positive_rate_difference")
    negatives = int(((df.race == "Asian") & (df.y == 0)).sum())
    rows = int((df.race == "Asian").sum())
    assert (negatives, rows) == (23, 60)
    assert m.inconclusive is not None
    assert f"race=Asian ({negatives} rows behind false positive rate; {rows} in the group)" in m.inconclusive
    # the runner appends the reason to the message: the small group is reported once in the result
    shown = m.message + " — " + m.inconclusive
    assert len(re.findall("below min_group_size", shown)) == 1 and shown.count("in the group") == 1


def test_a_rate_over_all_rows_quotes_the_group_size():
    df = _data()
    df = df[~((df.race == "Asian") & (df.index % 2 == 0))]  # 30 Asian rows left -> 29 after one more
    df = df.drop(df[df.race == "Asian"].index[:1])
    m = _measure(df, "fairness.demographic_parity_difference")
    n = int((df.race == "Asian").sum())
    assert n < 30 and m.inconclusive is not None
    assert f"race=Asian (n={n})" in m.inconclusive


def test_excluded_small_groups_are_said_in_the_message():
    df = _data()
    m = _measure(df, "fairness.false_positive_rate_difference", small_groups="exclude")
    assert m.inconclusive is None
    assert "Excluded from the value" in m.message and "23 rows behind false positive rate" in m.message
