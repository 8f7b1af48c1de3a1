"""StandardEncoder against an independent pandas encoding, and its error messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.errors import DataError
from audit.ood import StandardEncoder

TYPES = {"a": "numeric", "b": "integer", "c": "categorical", "d": "categorical"}


def _frame(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(5, 2, n), "b": rng.integers(0, 9, n),
                         "c": rng.choice(["x", "y", "z"], n), "d": rng.choice([1, 2], n)})


def test_equals_pandas_encoding():
    ref, cur = _frame(300, 0), _frame(50, 1)
    cur.loc[0, "a"] = np.nan
    cur.loc[1, "c"] = "unseen"
    cur.loc[2, "c"] = None
    enc = StandardEncoder(TYPES).fit(ref)
    got = enc.transform(cur)
    num = ref[["a", "b"]].astype(float)
    z = (cur[["a", "b"]].astype(float) - num.mean()) / num.std(ddof=0)
    dummies = [pd.get_dummies(cur[c].astype(str)).reindex(columns=sorted(ref[c].astype(str).unique()),
                                                            fill_value=False) for c in ("c", "d")]
    want = np.hstack([z.fillna(0.0).to_numpy(), *[d.to_numpy(float) for d in dummies]])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert enc.feature_names() == ["a", "b", "c=x", "c=y", "c=z", "d=1", "d=2"]
    assert got[1, 2:5].tolist() == [0, 0, 0] and got[2, 2:5].tolist() == [0, 0, 0]
    assert got[0, 0] == 0.0  # missing -> the reference mean


def test_categorical_dtypes_and_mixed_objects():
    # Categories are compared as strings whatever the column's dtype: 1 and "1" are one
    # category, True another; missing values match nothing unless the reference held the text.
    rng = np.random.default_rng(0)
    mixed = np.array([1, "1", None, np.nan, "nan", 2.5, "b", True], dtype=object)

    def frame(n, extra):
        return pd.DataFrame({
            "m": mixed[rng.integers(0, 8, n)],
            "s": pd.Series(rng.choice(["p", "q", None, "None"], n), dtype=object),
            "k": pd.Categorical(rng.choice(["x", extra], n)),
            "i": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
            "b": rng.choice([True, False], n),
            "t": pd.array(rng.choice(["u", "v", None], n), dtype="string"),
        })

    ref, cur = frame(300, "y"), frame(120, "z")
    types = dict.fromkeys(ref.columns, "categorical")
    got = StandardEncoder(types).fit(ref).transform(cur)
    blocks = []
    for c in ref.columns:
        vocab = sorted(set(ref[c].dropna().astype(str)))
        blocks.append(cur[c].astype(str).to_numpy()[:, None] == np.array(vocab, dtype=object)[None, :])
    np.testing.assert_array_equal(got, np.hstack(blocks).astype(float))


def test_constant_column_centred_not_scaled():
    ref = pd.DataFrame({"k": [3.0] * 10, "a": np.arange(10.0)})
    out = StandardEncoder({}).fit(ref).transform(pd.DataFrame({"k": [4.0], "a": [4.5]}))
    assert out.tolist() == [[1.0, 0.0]]


def test_bad_input_named():
    ref = _frame(20, 0)
    enc = StandardEncoder(TYPES).fit(ref)
    with pytest.raises(DataError, match=r"column\(s\) \['c'\] the encoder was fitted on are not in the data"):
        enc.transform(ref.drop(columns="c"))
    with pytest.raises(DataError, match=r"column\(s\) \['a'\] of the current data hold 1 infinite"):
        enc.transform(ref.assign(a=np.r_[np.inf, ref["a"].to_numpy()[1:]]))
    with pytest.raises(DataError, match="column 'c' of the reference data is encoded as numeric"):
        StandardEncoder({}).fit(ref)
    with pytest.raises(DataError, match="needs a pandas DataFrame; found ndarray"):
        StandardEncoder(TYPES).fit(ref.to_numpy())
    with pytest.raises(RuntimeError, match="before fit"):
        StandardEncoder(TYPES).transform(ref)
