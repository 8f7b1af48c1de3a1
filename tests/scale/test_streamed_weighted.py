"""Weighted audits (data.weight) give the same results.json on every executor too.

The policy of test_streamed.py (demo + robustness policies, every perturbed and shifted kind)
plus the representativeness checks, on the same 4,000 rows with skewed row weights, in memory,
in 1,000-row partitions on one and two threads, in one whole-table partition on two threads and
on a two-worker Dask LocalCluster: every result must be equal field by field. Weight sums are
exact (integer mantissas per exponent), so partitioning cannot move a single bit.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from tests.scale.conftest import write_policy
from tests.scale.test_streamed import _policy_parts, _values, run_on_every_executor

REPRESENTATIVENESS = [
    {"id": "data.representativeness", "params": {"groups": "both"}, "threshold": {"max": 1e9}},
    {"id": "data.reference_mix", "threshold": {"max": 1e9}},
]


@pytest.fixture(scope="module")
def weighted_files(scale_files, tmp_path_factory):
    d = tmp_path_factory.mktemp("weighted")
    df = pd.read_parquet(scale_files["file"])
    df["w"] = np.random.default_rng(21).lognormal(0.0, 0.7, len(df))
    folder = d / "holdout"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 1300), (1300, 2900), (2900, 4000)]):
        pq.write_table(pa.Table.from_pandas(df.iloc[a:b], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=350)
    shares = df.groupby(["sex", "age_band"]).size() / len(df)
    pop = d / "population.csv"
    pd.DataFrame([{"sex": s, "age_band": a, "share": 0.8 * v + 0.2 / len(shares)}
                  for (s, a), v in shares.items()]).to_csv(pop, index=False)
    return {**scale_files, "folder": folder, "weighted_df": df, "population": pop, "dir": d}


@pytest.fixture(scope="module")
def runs(weighted_files):
    checks, evalsets = _policy_parts()
    f = weighted_files
    policy = write_policy(f["dir"], f, checks + REPRESENTATIVENESS, evalsets=evalsets,
                          execution={"sample_rows": 1500}, population=str(f["population"]))
    import yaml

    doc = yaml.safe_load(policy.read_text())
    doc["data"]["weight"] = "w"
    policy.write_text(yaml.safe_dump(doc, sort_keys=False))
    return run_on_every_executor(policy)


def test_weighted_results_identical_on_every_executor(runs):
    ref_rows, ref_sets = _values(runs["memory"])
    assert len(ref_rows) > 40
    errors = [(r["id"], r["evalset"], r["message"]) for r in ref_rows if r["verdict"] == "ERROR"]
    assert not errors, errors
    weighted = [r for r in ref_rows if r["interval"] and ("weighted" in r["interval"]["method"]
                                                          or "kish" in r["interval"]["method"])]
    assert len(weighted) > 25  # the summary checks did run weighted
    for name, res in runs.items():
        rows, sets = _values(res)
        for a, b in zip(ref_rows, rows, strict=True):
            assert a == b, f"{name}: {a['id']} [{a['evalset']}] differs from the in-memory audit"
        assert sets == ref_sets, name


def test_weighted_numbers_on_partitions_match_scikit_learn(runs, weighted_files):
    import skops.io as sio

    df = weighted_files["weighted_df"]
    model = sio.load(weighted_files["model"], trusted=sio.get_untrusted_types(file=weighted_files["model"]))
    X = df.drop(columns=["repaid", "age_band", "w"])
    p = model.predict_proba(X)[:, 1]
    yhat = model.classes_[(p >= 0.5).astype(int)]
    w = df["w"].to_numpy()
    res = {r.id: r for r in runs["local-1000x2"].results if r.evalset == "base"}
    assert res["performance.accuracy"].value == pytest.approx(accuracy_score(df["repaid"], yhat, sample_weight=w),
                                                              abs=1e-12)
    tied = res["performance.roc_auc"].details["tied_pair_share"]
    assert abs(res["performance.roc_auc"].value - roc_auc_score(df["repaid"], p, sample_weight=w)) <= tied / 2 + 1e-9
    rep = res["data.representativeness"]
    share = pd.Series(w).groupby(df["sex"].to_numpy()).sum() / w.sum()
    got = {g.group: g.value for g in rep.groups if g.extra["partition"] == "sex"}
    assert got == pytest.approx({f"sex={k}": v for k, v in share.items()}, rel=1e-12)


def test_population_csv_path_is_relative_to_the_policy(weighted_files):
    assert Path(weighted_files["population"]).exists()
