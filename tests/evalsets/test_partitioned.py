"""Partitionable evaluation sets built partition by partition equal the same sets built from
the whole table in one partition, and perturb as their kind says."""

import numpy as np
import pandas as pd
import pytest

from audit.evalsets import EvalSetSpec, EvaluationSet, TableInfo, TableStats, build_set, derive_seed

FEATURES = ["x_num", "x_int", "color"]
TYPES = {"x_num": "numeric", "x_int": "integer", "color": "categorical"}
SEED = 7


def _table(n, seed=0, p_a=0.2):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x_num": rng.normal(50.0, 10.0, n),
        "x_int": rng.integers(0, 100, n),
        "color": rng.choice(np.array(["red", "green", "blue", "grey"], dtype=object), n),
        "grp": rng.choice(np.array(["A", "B"], dtype=object), n, p=[p_a, 1 - p_a]),
        "y": rng.integers(0, 2, n),
    })


def _stats(df):
    # Whole-table quantities computed directly (as _run._table_stats would from exact counts).
    return TableStats(
        n=len(df),
        spread={c: float(np.std(df[c].to_numpy(dtype=float))) for c in ("x_num", "x_int")},
        mean={c: float(df[c].mean()) for c in ("x_num", "x_int")},
        median={c: float(df[c].median()) for c in ("x_num", "x_int")},
        mode={"color": df["color"].mode().iloc[0]},
        vocab={"color": sorted(df["color"].unique().tolist())},
        value_counts={c: {str(k): int(v) for k, v in df[c].value_counts().items()} for c in ("grp", "color", "y")},
        label_counts={str(k): int(v) for k, v in df["y"].value_counts().items()},
    )


class _Plan:
    """The table description and the set specs (what the summary pass ships to workers)."""

    def __init__(self, df, specs):
        self.specs = {name: EvalSetSpec(name=name, kind=kind, severity=sev, params=params)
                      for name, (kind, sev, params) in specs.items()}
        self.table = TableInfo(feature_types=dict(TYPES), constraints={}, declared_constraints={}, pos_label=1,
                               seed=SEED, stats=_stats(df))


def _plan(df, specs):
    return _Plan(df, specs)


def build_partition(plan, name, base):
    return build_set(plan.table, base, plan.specs[name], SEED)


def _base(df, start, stop):
    # The base set of one partition, as summary_task builds it.
    part = df.iloc[start:stop]
    return EvaluationSet(name="base", kind="base", X=part[FEATURES].reset_index(drop=True),
                         y=part["y"].to_numpy(), sensitive=part[["grp"]].reset_index(drop=True),
                         source_index=np.arange(start, stop, dtype=np.int64))


def _built(plan, name, df, sizes):
    cuts = np.cumsum([0, *sizes])
    assert cuts[-1] == len(df)
    return [build_partition(plan, name, _base(df, a, b)) for a, b in zip(cuts, cuts[1:], strict=False)]


def _assert_same_set(pieces, whole):
    X = pd.concat([p.X for p in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(X, whole.X)
    pd.testing.assert_frame_equal(pd.concat([p.sensitive for p in pieces], ignore_index=True), whole.sensitive)
    assert np.array_equal(np.concatenate([p.y for p in pieces]), whole.y)
    assert np.array_equal(np.concatenate([p.source_index for p in pieces]), whole.source_index)


SIZES = [1, 2, 997, 3000, 6000]  # n = 10,000; odd sizes so no partition looks like another

CASES = {
    "perturbed.noise@0.3": ("perturbed.noise", 0.3, {}),
    "perturbed.category_swap@0.25": ("perturbed.category_swap", 0.25, {}),
    "perturbed.missing@0.15": ("perturbed.missing", 0.15, {"mechanism": "mcar"}),
    "shifted.subpopulation": ("shifted.subpopulation", 1.0, {"group": "grp=A"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_partitioned_build_equals_whole_build(name):
    df = _table(10_000, seed=1)
    plan = _plan(df, {name: CASES[name]})
    whole = build_partition(plan, name, _base(df, 0, len(df)))
    pieces = _built(plan, name, df, SIZES)
    _assert_same_set(pieces, whole)
    assert whole.name == name and whole.seed == derive_seed(SEED, "evalset", name)
    # Another partitioning too (whole-table results must not remember the first one).
    _assert_same_set(_built(plan, name, df, [5000, 4999, 1]), whole)


def test_noise_sd_is_severity_times_spread():
    df = _table(20_000, seed=2)
    names = {"perturbed.noise@0.1": ("perturbed.noise", 0.1, {}), "perturbed.noise@0.5": ("perturbed.noise", 0.5, {})}
    plan = _plan(df, names)
    lo, hi = (pd.concat([p.X for p in _built(plan, n, df, SIZES + [10_000])], ignore_index=True) for n in names)
    for c in ("x_num", "x_int"):
        added = lo[c].to_numpy() - df[c].to_numpy(dtype=float)
        # sd of 20,000 normal draws: relative error ~0.5%, so 3% is a wide margin.
        assert np.std(added) == pytest.approx(0.1 * plan.table.stats.spread[c], rel=0.03)
        assert abs(np.mean(added)) < 4 * 0.1 * plan.table.stats.spread[c] / np.sqrt(len(df))
        # Every severity scales the same draws (common random numbers).
        np.testing.assert_allclose(hi[c].to_numpy() - df[c].to_numpy(dtype=float), 5 * added, rtol=1e-9,
                                   atol=1e-9)
    # Each feature gets its own draws, and categorical ones are untouched.
    d_num = lo["x_num"] - df["x_num"]
    d_int = lo["x_int"] - df["x_int"]
    assert abs(np.corrcoef(d_num, d_int)[0, 1]) < 0.05
    assert lo["color"].equals(df["color"])


def test_category_swap_changes_a_share_to_another_category():
    df = _table(20_000, seed=3)
    name = "perturbed.category_swap@0.25"
    plan = _plan(df, {name: CASES[name]})
    X = pd.concat([p.X for p in _built(plan, name, df, SIZES + [10_000])], ignore_index=True)
    changed = X["color"].to_numpy() != df["color"].to_numpy()
    assert changed.mean() == pytest.approx(0.25, abs=0.015)  # sd of the share ~0.003
    assert set(X["color"]) <= set(plan.table.stats.vocab["color"])  # always another known category
    # All other categories are reachable from each one (the swap is not a fixed rotation).
    pairs = pd.crosstab(df["color"][changed], X["color"][changed])
    assert ((pairs > 0).sum(axis=1) == 3).all()
    assert X[["x_num", "x_int"]].equals(df[["x_num", "x_int"]])


def test_missing_mcar_rate_and_positions():
    df = _table(20_000, seed=4)
    name = "perturbed.missing@0.15"
    plan = _plan(df, {name: CASES[name]})
    X = pd.concat([p.X for p in _built(plan, name, df, SIZES + [10_000])], ignore_index=True)
    masks = {c: X[c].isna().to_numpy() for c in FEATURES}
    for c in FEATURES:
        assert masks[c].mean() == pytest.approx(0.15, abs=0.015)
        kept = ~masks[c]
        # Values that are not removed are unchanged (integers now as floats).
        got = pd.Series(X[c].to_numpy()[kept]).astype(df[c].dtype)
        assert np.array_equal(got.to_numpy(), df[c].to_numpy()[kept])
    # Completely at random: independent across features and of the label.
    assert abs(np.corrcoef(masks["x_num"], masks["color"])[0, 1]) < 0.05
    assert abs(np.corrcoef(masks["x_num"], df["y"])[0, 1]) < 0.05


def test_subpopulation_share_and_size():
    df = _table(200_000, seed=5, p_a=0.2)
    name = "shifted.subpopulation"
    plan = _plan(df, {name: CASES[name]})
    pieces = _built(plan, name, df, [1, 49_999, 70_000, 80_000])
    sens = pd.concat([p.sensitive for p in pieces], ignore_index=True)
    src = np.concatenate([p.source_index for p in pieces])
    p = float((df["grp"] == "A").mean())
    f = 5.0  # factor = 5 ** severity
    target = p * f / (p * f + 1 - p)
    share = float((sens["grp"] == "A").mean())
    # Poisson sampling: the share's sd is ~0.0012 at this size.
    assert share == pytest.approx(target, abs=0.01)
    assert share > p + 0.2  # really shifted (p = 0.2, target = 0.56)
    assert len(src) == pytest.approx(len(df), rel=0.02)  # expected size = n
    # Rows are copies of their source rows, in source order.
    assert np.all(np.diff(src) >= 0)
    assert np.array_equal(sens["grp"].to_numpy(), df["grp"].to_numpy()[src])
    X = pd.concat([q.X for q in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(X, df[FEATURES].iloc[src].reset_index(drop=True))


@pytest.mark.parametrize("lam", [0.05, 0.7, 3.0, 40.0])
def test_poisson_from_uniform_inverts_the_poisson_cdf(lam):
    from scipy import stats

    from audit.evalsets.shifted import poisson_from_uniform

    u = np.random.default_rng(6).random(50_000)
    k = poisson_from_uniform(u, lam)
    # Inverse CDF: the smallest k with F(k) >= u (scipy's ppf); float ties at the steps aside.
    assert (k == stats.poisson.ppf(u, lam)).mean() > 0.999
    assert k.mean() == pytest.approx(lam, rel=0.05, abs=0.01)


def test_poisson_from_uniform_large_lambda():
    from scipy import stats

    from audit.evalsets.shifted import poisson_from_uniform

    u = np.array([0.01, 0.5, 0.99])
    assert poisson_from_uniform(u, 800.0).tolist() == stats.poisson.ppf(u, 800.0).astype(int).tolist()


@pytest.mark.parametrize("name,kind,severity,params", [
    ("perturbed.noise@0.5", "perturbed.noise", 0.5, {}),
    ("perturbed.outliers@0.3", "perturbed.outliers", 0.3, {}),
    ("perturbed.scale@0.5", "perturbed.scale", 0.5, {"rows": 0.5}),
    ("perturbed.rounding@0.5", "perturbed.rounding", 0.5, {}),
    ("perturbed.dropout@0.5", "perturbed.dropout", 0.5, {}),
    ("perturbed.missing@0.3", "perturbed.missing", 0.3, {}),
    ("perturbed.category_swap@0.3", "perturbed.category_swap", 0.3, {}),
])
def test_builders_never_write_into_the_base_rows(name, kind, severity, params):
    # Builders share the base's column arrays (no deep copy): a write in place would corrupt
    # the base set and every set built after it.
    df = _table(500, seed=3)
    plan = _plan(df, {name: (kind, severity, params)})
    base = _base(df, 0, len(df))
    before = base.X.copy(deep=True)
    es = build_partition(plan, name, base)
    pd.testing.assert_frame_equal(base.X, before)
    assert not es.X.equals(before)
