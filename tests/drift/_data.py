"""Reference and current tables with every kind of column the drift tests meet."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_TYPES = {"x": "numeric", "shifted": "numeric", "ties": "integer", "gappy": "numeric",
                 "tiny": "numeric", "color": "categorical", "flag": "categorical",
                 "holes": "categorical", "const": "categorical"}


def tables(n_ref: int = 700, n_cur: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables: one shifted numeric column, ties, missing values, unseen and missing categories,
    a column with one category, and a numeric column with a single non-missing value."""
    rng = np.random.default_rng(seed)

    def table(n, shift, cats):
        gappy = rng.normal(size=n)
        gappy[rng.random(n) < 0.3] = np.nan
        tiny = np.full(n, np.nan)
        tiny[0] = 1.0
        holes = rng.choice(["a", "b", None], n, p=[0.5, 0.3, 0.2])
        return pd.DataFrame({
            "x": rng.normal(size=n),
            "shifted": rng.normal(shift, 1.0, size=n),
            "ties": rng.poisson(3, size=n),
            "gappy": gappy,
            "tiny": tiny,
            "color": rng.choice(cats, n),
            "flag": rng.choice([True, False], n, p=[0.3 + shift / 4, 0.7 - shift / 4]),
            "holes": pd.Series(holes, dtype=object),
            "const": "same",
        })

    return table(n_ref, 0.0, ["red", "green", "blue"]), table(n_cur, 0.4, ["red", "green", "blue", "pink"])
