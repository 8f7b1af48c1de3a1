"""`audit sample`: a stratified sample with Horvitz-Thompson weights, the same on every executor.

Checked against pandas on the whole table: each stratum keeps max(floor, its proportional share)
rows (or all of them), every weight is N_h / n_h, weighted counts of any union of strata equal the
table's counts exactly, and auditing the sample with its weights gives the table's group shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import audit
from audit.cli import main
from audit.data.demo import make_credit_data

STRATA = ["repaid", "sex", "age_band"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    df = make_credit_data(6000, seed=8)
    df["w0"] = np.random.default_rng(1).uniform(0.5, 2.0, len(df))
    folder = d / "big"
    folder.mkdir()
    for i, (a, b) in enumerate([(0, 2500), (2500, 4100), (4100, 6000)]):
        pq.write_table(pa.Table.from_pandas(df.iloc[a:b], preserve_index=False), folder / f"p{i}.parquet",
                       row_group_size=700)
    return {"dir": d, "folder": folder, "df": df}


def _sample(table, out, *extra):
    code = main(["sample", str(table["folder"]), "--target", "repaid", "--sensitive", "sex", "age_band",
                 "--rows", "1200", "--floor", "150", "--seed", "4", "--out", str(out), *extra])
    return code, (pd.read_parquet(out) if code == 0 else None)


def test_strata_allocation_and_weights_equal_pandas(table, tmp_path, capsys):
    code, s = _sample(table, tmp_path / "s.parquet")
    assert code == 0
    df = table["df"]
    N = df.groupby(STRATA).size()
    n = s.groupby(STRATA).size()
    want = np.minimum(N, np.maximum(150, np.round(1200 * N / len(df)).astype(int)))
    assert n.to_dict() == want.to_dict()
    w = s.groupby(STRATA)["sample_weight"].agg(["min", "max"])
    assert np.allclose(w["min"], N / n) and np.allclose(w["max"], N / n)
    assert s["sample_weight"].sum() == pytest.approx(len(df), rel=1e-12)
    # Sample rows are table rows, unchanged, in table order.
    cols = [c for c in df.columns]
    merged = s[cols].merge(df, on=cols, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    out = capsys.readouterr().out
    assert f"{len(s):,} of 6,000 rows, stratified by repaid x sex x age_band" in out


def test_same_sample_on_every_executor(table, tmp_path):
    _, mem = _sample(table, tmp_path / "m.parquet")
    _, loc = _sample(table, tmp_path / "l.parquet", "--executor", "local", "--workers", "2",
                     "--partition-rows", "1000")
    pd.testing.assert_frame_equal(mem, loc)


def test_weighted_counts_of_groups_equal_the_table_and_audit_recovers_the_shares(table, tmp_path):
    _, s = _sample(table, tmp_path / "s.parquet")
    df = table["df"]
    for col in ("sex", "age_band", "repaid"):
        est = s.groupby(col)["sample_weight"].sum()
        assert est.to_dict() == pytest.approx(df[col].value_counts().to_dict(), rel=1e-12)
    pol = {"version": 1, "name": "sampled", "data": {"path": "x.parquet", "target": "repaid",
                                                     "sensitive": ["sex", "age_band"], "prediction": "repaid",
                                                     "weight": "sample_weight"},
           "checks": [{"id": "data.group_representation", "threshold": {"min": 0.0}},
                      {"id": "data.class_balance", "threshold": {"min": 0.0}}]}
    rep, bal = audit.run(pol, data=s).results
    shares = df["sex"].value_counts(normalize=True).to_dict() | df["age_band"].value_counts(normalize=True).to_dict()
    got = {g.group.split("=")[1]: g.value for g in rep.groups}
    assert got == pytest.approx(shares, rel=1e-12)
    assert bal.value == pytest.approx(df["repaid"].value_counts(normalize=True).min(), rel=1e-12)


def test_existing_weights_are_multiplied(table, tmp_path):
    _, s = _sample(table, tmp_path / "s.parquet", "--weight", "w0", "--weight-column", "ht")
    df = table["df"]
    N = df.groupby(STRATA).size()
    n = s.groupby(STRATA).size()
    design = s.set_index(STRATA).index.map((N / n).to_dict()).to_numpy()
    assert np.allclose(s["ht"], design * s["w0"])


def test_policy_supplies_data_and_columns(table, tmp_path):
    pol = {"version": 1, "name": "p", "seed": 4,
           "data": {"path": str(table["folder"]), "target": "repaid", "sensitive": ["sex", "age_band"]},
           "model": {"path": "m.skops"}, "checks": [{"id": "performance.accuracy", "threshold": {"min": 0.5}}]}
    f = tmp_path / "policy.yaml"
    f.write_text(yaml.safe_dump(pol))
    assert main(["sample", "--policy", str(f), "--rows", "1200", "--floor", "150", "--out",
                 str(tmp_path / "p.parquet")]) == 0
    _, direct = _sample(table, tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p.parquet"), direct)


def test_bad_inputs_exit_2_with_the_reason(table, tmp_path, capsys):
    out = tmp_path / "s.parquet"
    assert _sample(table, out)[0] == 0
    assert _sample(table, out)[0] == 2
    assert "the file exists; pass --overwrite" in capsys.readouterr().err
    assert main(["sample", str(table["folder"]), "--sensitive", "gender", "--rows", "10",
                 "--out", str(tmp_path / "x.parquet")]) == 2
    assert "column(s) ['gender'] not found" in capsys.readouterr().err
    assert main(["sample", str(table["folder"]), "--sensitive", "sex", "--rows", "10", "--weight-column", "w0",
                 "--out", str(tmp_path / "y.parquet")]) == 2
    assert "already has a column 'w0'" in capsys.readouterr().err
    assert main(["sample", str(table["folder"]), "--sensitive", "sex", "--rows", "10",
                 "--out", str(tmp_path / "z.csv")]) == 2
    assert "expected a .parquet file" in capsys.readouterr().err
