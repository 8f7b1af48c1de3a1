"""Unit tests of audit.stats.summaries: integer summaries that add up exactly in any order."""

import math
from functools import reduce

import numpy as np
import pandas as pd
import pytest

from audit.stats.summaries import (
    MISSING,
    CellTable,
    ExactSums,
    Request,
    Rows,
    cell_keys,
    fixed_sums,
    merge,
    summarise,
)

# -- fixed_sums -----------------------------------------------------------------------------


def _exact(values, codes, n_cells, bits):
    # Python ints: sum of round(v * 2**bits), cell by cell (round() is half-to-even, like np.rint;
    # multiplying by a power of two is exact, so the float product is the real one).
    scale = 2**bits
    return [sum(map(round, (values[codes == c] * scale).tolist())) for c in range(n_cells)]


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 37.0), (-2.0, 2.0)])
def test_fixed_sums_are_exact(low, high):
    # 3 million rows in a few cells: with bound 37 and 32 bits a chunk is ~28,000 rows, so the
    # int64 accumulation across ~100 chunks is what keeps the sum exact.
    rng = np.random.default_rng(int(high))
    n, cells, bits, bound = 3_000_000, 4, 32, max(abs(low), abs(high))
    values = rng.uniform(low, high, n)
    codes = rng.choice(cells, size=n, p=[0.6, 0.3, 0.1, 0.0])  # an empty cell too
    got = fixed_sums(values, codes, cells, bits, bound)
    assert got.dtype == np.int64 and got.shape == (cells,)
    assert got.tolist() == _exact(values, codes, cells, bits)
    assert got[3] == 0
    for c in range(cells):
        m = int((codes == c).sum())
        # Each row is rounded by at most 2**-(bits+1): the fixed-point sum is that close to the real one.
        assert abs(got[c] / 2**bits - math.fsum(values[codes == c])) <= max(m, 1) * 2.0**-bits
    # Exact integers do not care about order.
    perm = rng.permutation(n)
    assert np.array_equal(fixed_sums(values[perm], codes[perm], cells, bits, bound), got)


def test_fixed_sums_needs_its_chunking():
    # A single float64 bincount over the same rows is NOT exact (partial sums pass 2**53):
    # this is the case the chunking exists for, so the exactness test above is not vacuous.
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 37, 3_000_000)
    codes = np.zeros(len(values), dtype=np.int64)
    naive = np.bincount(codes, np.rint(values * 2.0**32))[0]
    exact = _exact(values, codes, 1, 32)[0]
    assert exact > 2**53
    assert int(naive) != exact
    assert int(fixed_sums(values, codes, 1, 32, 37.0)[0]) == exact


# -- summaries of partitions merge exactly --------------------------------------------------

REQUESTS = [Request("confusion", "base"), Request("scores", "base"), Request("loss", "base", "brier"),
            Request("ece", "base", 10)]
SENS = ["sex", "band"]


def _data(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0.0, 1.0)
    score[:3] = [0.0, 1.0, 0.5]  # the edges of the histograms
    sex = rng.choice(np.array(["F", "M", None], dtype=object), size=n, p=[0.45, 0.45, 0.1])
    band = rng.integers(1, 4, n)  # integers: keys are their str()
    return pd.DataFrame({"y": y, "pred": (score >= 0.5).astype(np.int64), "score": score,
                         "sex": sex, "band": band})


def _rows(df):
    # As summary_task does: cell keys coded per partition, so partitions' keys differ in order.
    codes, keys = cell_keys(df[SENS], SENS)
    return Rows(y=df["y"].to_numpy(), pred=df["pred"].to_numpy(), score=df["score"].to_numpy(), proba=None,
                codes=codes, keys=keys, k=2, pos=1)


def _summaries(df):
    r = _rows(df)
    return {req: summarise(req, r, None, None) for req in REQUESTS}


def _same(a, b):
    """Bit-identical summaries (dicts holding arrays cannot be compared with ==)."""
    if isinstance(a, CellTable):
        assert isinstance(b, CellTable)
        assert set(a) == set(b)
        for k in a:
            assert a[k].dtype == np.int64 and np.array_equal(a[k], b[k]), k
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            if isinstance(a[k], ExactSums):
                assert np.array_equal(a[k].values(), b[k].values()), k
                assert a[k].fractions() == b[k].fractions(), k
            else:
                assert np.array_equal(a[k], b[k]), k
    else:
        assert a.dtype == np.int64 and np.array_equal(a, b)


def _merge_all(parts, req, order):
    return reduce(merge, [parts[i][req] for i in order], None)


def _merge_tree(summaries):
    while len(summaries) > 1:
        summaries = [merge(*summaries[i:i + 2]) if i + 1 < len(summaries) else summaries[i]
                     for i in range(0, len(summaries), 2)]
    return summaries[0]


def test_merge_is_order_independent_and_equals_whole_table():
    df = _data()
    cuts = np.cumsum([0, 1, 17, 1000, 4982, 7000, 7000])
    assert cuts[-1] == len(df)
    parts = [_summaries(df.iloc[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    whole = _summaries(df)
    orders = [range(len(parts)), range(len(parts))[::-1], np.random.default_rng(3).permutation(len(parts))]
    for req in REQUESTS:
        for order in orders:
            _same(_merge_all(parts, req, order), whole[req])
        _same(_merge_tree([p[req] for p in parts]), whole[req])
        # Grouped differently: (first three) + (last three), then added the other way round.
        left, right = _merge_all(parts, req, [0, 1, 2]), _merge_all(parts, req, [3, 4, 5])
        _same(merge(right, left), whole[req])
    # Merging did not modify any partition's summary (re-summarising gives the same).
    _same(parts[2][REQUESTS[0]], _summaries(df.iloc[cuts[2]:cuts[3]])[REQUESTS[0]])


def test_merged_confusion_matches_crosstab_per_cell():
    df = _data(seed=1)
    cuts = [0, 333, 334, 9000, 20_000]
    merged = reduce(merge, [_summaries(df.iloc[a:b])[REQUESTS[0]] for a, b in zip(cuts, cuts[1:], strict=False)])
    named = df.assign(sex=df["sex"].fillna(MISSING).astype(str), band=df["band"].astype(str))
    groups = dict(tuple(named.groupby(SENS)))
    assert set(merged) == set(groups)
    assert ("<missing>", "2") in merged  # NaN is its own named cell
    for key, g in groups.items():
        ct = pd.crosstab(g["y"], g["pred"]).reindex(index=[0, 1], columns=[0, 1], fill_value=0)
        # Cell layout: index y * k + pred.
        assert merged[key].tolist() == ct.to_numpy().ravel().tolist(), key


def test_merged_numeric_summaries_match_direct_computation():
    df = _data(seed=2)
    cuts = [0, 5000, 5001, 12_345, 20_000]
    m = {req: reduce(merge, [_summaries(df.iloc[a:b])[req] for a, b in zip(cuts, cuts[1:], strict=False)])
         for req in REQUESTS}
    y, s, n = df["y"].to_numpy(), df["score"].to_numpy(), len(df)
    # Scores: one histogram row per true class, each row counting that class's rows.
    scores = m[REQUESTS[1]]
    assert scores.shape == (2, 1 << 16)
    assert scores.sum(axis=1).tolist() == [int((y == 0).sum()), int((y == 1).sum())]
    assert scores[:, -1].sum() >= 1 and scores[:, 0].sum() >= 1  # scores 0 and 1 land in the end bins
    # Brier loss: counts, and exact sums: the correctly rounded float sums (math.fsum).
    loss = m[REQUESTS[2]]
    brier = (y - s) ** 2
    assert int(loss["count"].sum()) == n
    total, sq = (float(f) for f in loss["sums"].fractions())
    assert total == math.fsum(brier) and sq == math.fsum(brier**2)
    # ECE: counts by (bin, sub-bin, hit); hits are the positive rows (binary, score confidence).
    ece = m[REQUESTS[3]]
    assert int(ece["count"].sum()) == n
    assert int(ece["count"][1::2].sum()) == int((y == 1).sum())
    assert abs(ece["sum"].sum() / 2**32 - math.fsum(s)) <= n * 2.0**-32


# -- cell_keys ------------------------------------------------------------------------------


def test_cell_keys_match_pandas_groupby():
    rng = np.random.default_rng(4)
    n = 5000
    sens = pd.DataFrame({
        "sex": rng.choice(np.array(["F", "M", None], dtype=object), n),
        "age": rng.choice(np.array([1.5, 2.5, np.nan]), n),
        "region": pd.Categorical(rng.choice(["north", "south"], n)),
    })
    cols = ["sex", "age", "region"]
    codes, keys = cell_keys(sens, cols)
    assert codes.dtype == np.int64 and codes.shape == (n,)
    assert all(isinstance(k, tuple) and len(k) == 3 and all(isinstance(v, str) for v in k) for k in keys)
    assert len(set(keys)) == len(keys)
    # Independent naming: str(value), "<missing>" for NaN/None; then pandas groups those names.
    named = pd.DataFrame({c: [MISSING if pd.isna(v) else str(v) for v in sens[c]] for c in cols})
    assert [keys[c] for c in codes] == list(map(tuple, named.to_numpy().tolist()))
    sizes = named.groupby(cols).size()
    assert len(keys) == len(sizes)
    counts = np.bincount(codes, minlength=len(keys))
    assert {k: int(counts[i]) for i, k in enumerate(keys)} == {k: int(v) for k, v in sizes.items()}
    assert (MISSING, MISSING, "north") in keys  # None and NaN are named alike


def test_cell_keys_equal_names_share_a_key_and_no_columns():
    # 1 and "1" print alike, so they are one cell (as audit.stats.group_codes treats them).
    sens = pd.DataFrame({"g": np.array([1, "1", 2.5, None, "x"], dtype=object)})
    codes, keys = cell_keys(sens, ["g"])
    assert codes[0] == codes[1]
    assert sorted(keys) == sorted([("1",), ("2.5",), (MISSING,), ("x",)])
    assert keys[codes[3]] == (MISSING,)
    codes, keys = cell_keys(sens, [])
    assert keys == [()] and codes.tolist() == [0] * 5


def test_cell_table_add_is_keywise_and_pure():
    a = CellTable({("F",): np.array([1, 2], dtype=np.int64)})
    b = CellTable({("F",): np.array([10, 20], dtype=np.int64), ("M",): np.array([5, 0], dtype=np.int64)})
    c = a + b
    assert isinstance(c, CellTable)
    assert c[("F",)].tolist() == [11, 22] and c[("M",)].tolist() == [5, 0]
    assert a[("F",)].tolist() == [1, 2] and set(a) == {("F",)}  # operands unchanged
    c[("M",)][0] = 99
    assert b[("M",)][0] == 5  # a key only in `b` is copied, not shared


# -- exact sums -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_sums_are_the_correctly_rounded_sums_in_any_order(seed):
    from fractions import Fraction

    rng = np.random.default_rng(seed)
    n = 50_000
    # Magnitudes from 1e-12 to 1e12, both signs: float addition would depend on the order.
    v = np.column_stack([rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, n), rng.standard_cauchy(n)])
    codes = rng.integers(0, 5, n)
    whole = ExactSums.of(v, codes, 5)
    cuts = [0, 1, 999, 20_000, 20_001, n]
    pieces = [ExactSums.of(v[a:b], codes[a:b], 5) for a, b in zip(cuts, cuts[1:], strict=False)]
    merged = reduce(merge, pieces[::-1])
    assert np.array_equal(whole.values(), merged.values())
    for c in range(5):
        for j in range(2):
            exact = sum((Fraction(x) for x in v[codes == c, j]), Fraction(0))
            assert whole.values()[c, j] == float(exact) == math.fsum(v[codes == c, j])
    assert whole.fractions() == [sum((Fraction(x) for x in v[:, j]), Fraction(0)) for j in range(2)]


@pytest.mark.parametrize(("n_codes", "magnitudes"), [(7, 20), (1000, 300)])
def test_exact_sums_keys_are_those_sorting_finds(n_codes, magnitudes):
    # Few exponents (a loss) take the dense numbering, 1000 cells x ~4000 exponents are sorted.
    rng = np.random.default_rng(3)
    n = 20_000
    v = np.column_stack([rng.normal(size=n) * 10.0 ** rng.integers(-magnitudes, magnitudes, n), np.zeros(n)])
    codes = rng.integers(0, n_codes, n)
    sums = ExactSums.of(v, codes, n_codes)
    mant, expo = np.frexp(v)
    keep = mant.ravel() != 0
    key = ((codes[:, None] * 2 + np.arange(2)) * 4096 + (expo.astype(np.int64) + 2048)).ravel()[keep]
    assert np.array_equal(sums.keys, np.unique(key))
    for c in rng.choice(n_codes, 5, replace=False):
        assert sums.values()[c, 0] == math.fsum(v[codes == c, 0])
        assert sums.values()[c, 1] == 0.0
