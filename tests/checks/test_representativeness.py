"""data.representativeness and data.reference_mix against scipy and pandas.

The evaluation data is synthetic with Adult-like shares (the UCI Adult census extract is two
thirds men and 85 % white); the declared population has census-like shares, so the gaps are
large and known. Every chi-square statistic and p-value must equal scipy's, every share and gap
pandas', and bad population declarations are exit-2 input errors naming what is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import audit
from audit.cli import main

SEX = {"Male": 0.669, "Female": 0.331}  # Adult-like evaluation data
RACE = {"White": 0.854, "Black": 0.096, "Asian-Pac-Islander": 0.031, "Amer-Indian-Eskimo": 0.010, "Other": 0.009}
POP_SEX = {"Female": 0.508, "Male": 0.492}  # census-like population (rounded: sums to 1.0)
POP_RACE = {"White": 0.76, "Black": 0.134, "Asian-Pac-Islander": 0.062, "Amer-Indian-Eskimo": 0.013, "Other": 0.031}


def adult_like(n: int = 6000, seed: int = 0, sex=SEX, race=RACE) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"sex": rng.choice(list(sex), n, p=list(sex.values())),
                       "race": rng.choice(list(race), n, p=list(race.values())),
                       "x": rng.normal(size=n)})
    df["y"] = (df["x"] + rng.normal(size=n) + 0.3 * (df["sex"] == "Male") > 0.4).astype(int)
    df["decision"] = (df["x"] > 0.2).astype(int)
    df["score"] = 1.0 / (1.0 + np.exp(-2.0 * df["x"]))
    return df


def _policy(checks, population=None, weight=None, **extra):
    p = {"version": 1, "name": "rep", "seed": 1,
         "data": {"path": "unused.csv", "target": "y", "sensitive": ["sex", "race"], "prediction": "decision",
                  "score": "score", **({"weight": weight} if weight else {})},
         "defaults": {"n_boot": 500, "min_group_size": 20},
         "checks": [{"id": c, "params": prm, "threshold": {"max": 0.05}} for c, prm in checks], **extra}
    if population is not None:
        p["population"] = population
    return p


@pytest.fixture(scope="module")
def adult():
    return adult_like()


@pytest.fixture(scope="module")
def marginal(adult):
    res = audit.run(_policy([("data.representativeness", {})], {"sex": POP_SEX, "race": POP_RACE}), data=adult)
    return res.results[0]


def test_chi_square_equals_scipy_chisquare_per_column(adult, marginal):
    tests = {t["partition"]: t for t in marginal.details["tests"]}
    for col, pop in (("sex", POP_SEX), ("race", POP_RACE)):
        groups = sorted(pop)
        obs = adult[col].value_counts().reindex(groups).to_numpy()
        ref = stats.chisquare(obs, len(adult) * np.array([pop[g] for g in groups]) / sum(pop.values()))
        assert tests[col]["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert tests[col]["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        assert tests[col]["dof"] == len(groups) - 1
    assert marginal.verdict.value == "FAIL"  # Adult's 67 % men vs a 49 % male population


def test_largest_gap_and_group_intervals_equal_pandas_and_scipy(adult, marginal):
    gaps = {}
    for col, pop in (("sex", POP_SEX), ("race", POP_RACE)):
        share = adult[col].value_counts(normalize=True)
        for g, pi in pop.items():
            gaps[f"{col}={g}"] = share.get(g, 0.0) - pi / sum(pop.values())
    assert marginal.value == pytest.approx(max(abs(v) for v in gaps.values()), rel=1e-12)
    for g in marginal.groups:
        assert g.extra["gap"] == pytest.approx(gaps[g.group], abs=1e-12)
        col, val = g.group.split("=")
        k = int((adult[col] == val).sum())
        ci = stats.binomtest(k, len(adult)).proportion_ci(method="wilson")
        assert (g.interval.low, g.interval.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert g.extra["gap_low"] == pytest.approx(ci.low - g.extra["declared_share"], abs=1e-12)
    assert marginal.interval.method == "bootstrap-counts"
    assert marginal.interval.low < marginal.value < marginal.interval.high


def test_largest_gap_interval_matches_a_row_bootstrap(adult, marginal):
    rng = np.random.default_rng(0)
    n = len(adult)
    sex, race = adult["sex"].to_numpy(), adult["race"].to_numpy()
    reps = []
    for _ in range(1000):
        i = rng.integers(0, n, n)
        s = pd.Series(sex[i]).value_counts(normalize=True)
        r = pd.Series(race[i]).value_counts(normalize=True)
        reps.append(max(max(abs(s.get(g, 0) - p) for g, p in POP_SEX.items()),
                        max(abs(r.get(g, 0) - p) for g, p in POP_RACE.items())))
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert marginal.interval.high - marginal.interval.low == pytest.approx(hi - lo, rel=0.2)


def test_intersectional_shares_from_a_population_csv(adult, tmp_path):
    # Joint shares: independence of sex and race in the population, so the crosstab's test is known.
    rows = [{"sex": s, "race": r, "share": ps * pr} for s, ps in POP_SEX.items() for r, pr in POP_RACE.items()]
    csv = tmp_path / "population.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    pol = _policy([("data.representativeness", {"groups": "both"})], str(csv))
    r = audit.run(pol, data=adult).results[0]
    tests = {t["partition"]: t for t in r.details["tests"]}
    joint = {(x["sex"], x["race"]): x["share"] for x in rows}
    keys = sorted(joint)
    obs = adult.groupby(["sex", "race"]).size().reindex(pd.MultiIndex.from_tuples(keys)).fillna(0).to_numpy()
    ref = stats.chisquare(obs, len(adult) * np.array([joint[k] for k in keys]) / sum(joint.values()))
    assert tests["sex & race"]["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert tests["sex & race"]["dof"] == len(keys) - 1
    marg = adult["sex"].value_counts().reindex(sorted(POP_SEX)).to_numpy()
    ref_sex = stats.chisquare(marg, len(adult) * np.array([POP_SEX[g] for g in sorted(POP_SEX)]))
    assert tests["sex"]["statistic"] == pytest.approx(ref_sex.statistic, rel=1e-9)  # marginals summed from the CSV
    assert r.details["population"] == str(csv)


def test_weighted_shares_and_kish_scaled_test(adult):
    w = np.random.default_rng(4).gamma(2.0, 1.0, len(adult))
    df = adult.assign(w=w)
    r = audit.run(_policy([("data.representativeness", {"sensitive": ["sex"]})], {"sex": POP_SEX}, weight="w"),
                  data=df).results[0]
    share = pd.Series(w).groupby(df["sex"].to_numpy()).sum() / w.sum()
    assert {g.group: g.value for g in r.groups} == pytest.approx({f"sex={k}": v for k, v in share.items()},
                                                                  rel=1e-12)
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    groups = sorted(POP_SEX)
    ref = stats.chisquare(share.reindex(groups).to_numpy() * n_eff, np.array([POP_SEX[g] for g in groups]) * n_eff)
    assert r.details["tests"][0]["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert r.interval.method == "bootstrap-weighted-counts" and r.groups[0].interval.method == "wilson-kish"


def test_missing_values_are_left_out_unless_declared(adult):
    df = adult.copy()
    df["sex"] = df["sex"].astype(object)
    df.loc[df.index % 50 == 0, "sex"] = None
    r = audit.run(_policy([("data.representativeness", {"sensitive": ["sex"]})], {"sex": POP_SEX}),
                  data=df).results[0]
    kept = df["sex"].dropna()
    assert r.details["tests"][0]["rows"] == len(kept)
    assert "left out" in r.message
    obs = kept.value_counts().reindex(sorted(POP_SEX)).to_numpy()
    ref = stats.chisquare(obs, len(kept) * np.array([POP_SEX[g] for g in sorted(POP_SEX)]))
    assert r.details["tests"][0]["statistic"] == pytest.approx(ref.statistic, rel=1e-12)


def test_reference_mix_equals_scipy_chi2_contingency(adult):
    ref = adult_like(4000, seed=9, sex={"Male": 0.6, "Female": 0.4})
    r = audit.run(_policy([("data.reference_mix", {})]), data=adult, reference=ref).results[0]
    tests = {t["distribution"]: t for t in r.details["tests"]}
    assert set(tests) == {"label", "sex", "race"}
    best = 0.0
    for name, col in (("label", "y"), ("sex", "sex"), ("race", "race")):
        table = pd.crosstab(np.r_[np.zeros(len(adult)), np.ones(len(ref))],
                            np.r_[adult[col].astype(str), ref[col].astype(str)]).to_numpy()
        chi = stats.chi2_contingency(table, correction=False)
        assert tests[name]["statistic"] == pytest.approx(chi.statistic, rel=1e-12)
        assert tests[name]["p_value"] == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
        assert tests[name]["dof"] == chi.dof
        d = (adult[col].value_counts(normalize=True) - ref[col].value_counts(normalize=True)).abs().max()
        assert tests[name]["max_abs_difference"] == pytest.approx(d, abs=1e-12)
        best = max(best, d)
    assert r.value == pytest.approx(best, abs=1e-12)
    assert r.verdict.value == "FAIL"  # 67 % vs 60 % men
    assert r.interval.low < r.value < r.interval.high


def test_no_population_is_skipped_and_intersectional_needs_joint_shares(adult):
    res = audit.run(_policy([("data.representativeness", {}),
                             ("data.representativeness", {"groups": "intersectional"})],
                            {"sex": POP_SEX, "race": POP_RACE}), data=adult)
    assert res.results[1].verdict.value == "ERROR"
    assert "need joint population shares" in res.results[1].message
    skipped = audit.run(_policy([("data.representativeness", {})]), data=adult).results[0]
    assert skipped.verdict.value == "SKIPPED" and "population:" in skipped.message


def test_bad_population_declarations_are_input_errors(adult, tmp_path):
    with pytest.raises(audit.InputError, match=r"sensitive column 'sex' has value\(s\) \['Female'\] with no "
                                               r"declared population share"):
        audit.run(_policy([("data.representativeness", {})], {"sex": {"Male": 1.0}}), data=adult)
    with pytest.raises(audit.PolicyError, match="shares of 'sex' sum to 1.2"):
        audit.run(_policy([("data.representativeness", {})], {"sex": {"Male": 0.7, "Female": 0.5}}), data=adult)
    with pytest.raises(audit.PolicyError, match=r"population names column\(s\) \['age'\]"):
        audit.run(_policy([("data.representativeness", {})], {"age": {"a": 1.0}}), data=adult)
    bad = tmp_path / "pop.csv"
    bad.write_text("sex,fraction\nMale,0.5\nFemale,0.5\n")
    with pytest.raises(audit.InputError, match="no 'share' column"):
        audit.run(_policy([("data.representativeness", {})], str(bad)), data=adult)
    bad.write_text("sex,share\nMale,0.5\nFemale,half\n")
    with pytest.raises(audit.InputError, match=r"row\(s\) \[3\] are not numbers in \[0, 1\]"):
        audit.run(_policy([("data.representativeness", {})], str(bad)), data=adult)


def test_command_line_exit_code_2_names_the_problem(adult, tmp_path, capsys):
    import yaml

    data = tmp_path / "eval.csv"
    adult.to_csv(data, index=False)
    pol = _policy([("data.representativeness", {})], "missing-population.csv")
    pol["data"]["path"] = str(data)
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump(pol))
    assert main(["run", str(f), "--out", str(tmp_path / "out"), "--no-pdf", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "population" in err and "missing-population.csv" in err and "file not found" in err


def test_a_baseline_population_csv_is_read_from_the_baseline_folder(adult, tmp_path):
    import yaml

    base_dir, child_dir = tmp_path / "org", tmp_path / "team" / "model"
    base_dir.mkdir()
    child_dir.mkdir(parents=True)
    pd.DataFrame({"sex": list(POP_SEX), "share": list(POP_SEX.values())}).to_csv(base_dir / "pop.csv", index=False)
    (base_dir / "baseline.yaml").write_text(yaml.safe_dump(
        {"version": 1, "name": "org", "baseline": True, "population": "pop.csv",
         "checks": [{"id": "data.representativeness", "threshold": {"max": 0.05}}]}))
    data = child_dir / "eval.csv"
    adult.to_csv(data, index=False)
    (child_dir / "policy.yaml").write_text(yaml.safe_dump(
        {"version": 1, "name": "team", "extends": ["../../org/baseline.yaml"],
         "data": {"path": "eval.csv", "target": "y", "sensitive": ["sex", "race"], "prediction": "decision"}}))
    r = audit.run(str(child_dir / "policy.yaml")).results[0]
    assert r.verdict.value == "FAIL" and r.details["population"].endswith("pop.csv")
    obs = adult["sex"].value_counts().reindex(sorted(POP_SEX)).to_numpy()
    ref = stats.chisquare(obs, len(adult) * np.array([POP_SEX[g] for g in sorted(POP_SEX)]))
    assert r.details["tests"][0]["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
