"""Streamed audits of other inputs: CSV, predictions-only data, several candidate models."""

import pandas as pd
import pytest

from audit.policy import load_policy
from audit.runner import RunOptions, run_audit, run_audits
from tests.scale.conftest import write_policy

CHECKS = [
    {"id": "performance.accuracy", "threshold": {"min": 0.5}},
    {"id": "performance.roc_auc", "threshold": {"min": 0.5}},
    {"id": "fairness.equalized_odds_difference", "params": {"sensitive": ["sex", "age_band"]},
     "threshold": {"max": 1.0}},
    {"id": "data.missing_values", "threshold": {"max": 1.0}},
]


def _numbers(res):
    return [(r.id, r.value, r.interval, [(g.group, g.value) for g in r.groups]) for r in res.results]


def test_csv_gives_the_parquet_numbers(scale_files, tmp_path):
    # A missing category reads back as None from Parquet but NaN from CSV (and the model's
    # imputer treats them differently), so this table has none; missing numbers stay.
    df = pd.read_parquet(scale_files["file"]).fillna({"housing": "rent"})
    df.to_parquet(tmp_path / "holdout.parquet", index=False)
    # 17 significant digits: every float64 reads back bit for bit, so the model sees the same inputs.
    df.to_csv(tmp_path / "holdout.csv", index=False, float_format="%.17g")
    policy = write_policy(tmp_path, scale_files, CHECKS)
    opts = {"executor": "local", "partition_rows": 1000, "progress": False}
    from_csv = run_audit(load_policy(policy), RunOptions(trust_model=True, data=str(tmp_path / "holdout.csv"), **opts))
    from_parquet = run_audit(load_policy(policy), RunOptions(trust_model=True, data=str(tmp_path / "holdout.parquet"), **opts))
    assert _numbers(from_csv) == _numbers(from_parquet)
    assert from_csv.manifest["execution"]["rows"] == 4000


def test_predictions_only_streamed_equals_in_memory(scale_files, tmp_path):
    import skops.io as sio

    df = pd.read_parquet(scale_files["file"])
    model = sio.load(scale_files["model"], trusted=sio.get_untrusted_types(file=scale_files["model"]))
    X = df.drop(columns=["repaid", "age_band"])
    proba = model.predict_proba(X)[:, 1]
    df["decision"], df["score"] = (proba >= 0.5).astype(int), proba
    data = tmp_path / "scored.parquet"
    df.to_parquet(data, index=False)
    policy = write_policy(tmp_path, scale_files, CHECKS + [
        {"id": "robustness.flip_rate", "threshold": {"max": 1.0}}])  # needs a model: SKIPPED on both
    text = policy.read_text().replace(f"model:\n  path: {scale_files['model']}\n", "")
    text = text.replace(f"path: {scale_files['folder']}", f"path: {data}\n  prediction: decision\n  score: score")
    policy.write_text(text)
    streamed = run_audit(load_policy(policy), RunOptions(trust_model=True, executor="local", partition_rows=1000, progress=False))
    memory = run_audit(load_policy(policy), RunOptions(trust_model=True, progress=False))
    assert streamed.manifest["files"]["model"]["source"] == "predictions-only"
    by_id = {r.id: r for r in streamed.results}
    assert by_id["robustness.flip_rate"].verdict.value == "SKIPPED"
    acc = (df["decision"] == df["repaid"]).mean()
    assert by_id["performance.accuracy"].value == pytest.approx(acc, abs=1e-12)
    for s, m in zip(streamed.results, memory.results, strict=True):
        if s.id in ("performance.accuracy", "fairness.equalized_odds_difference"):
            assert (s.value, s.interval) == (m.value, m.interval), s.id


def test_several_models_stream_once_each(scale_files, tmp_path):
    policy = write_policy(tmp_path, scale_files, CHECKS)
    text = policy.read_text().replace(
        f"model:\n  path: {scale_files['model']}\n",
        f"models:\n- name: a\n  path: {scale_files['model']}\n"
        f"- name: b\n  path: {scale_files['model']}\n")
    policy.write_text(text)
    a, b = run_audits(load_policy(policy), RunOptions(trust_model=True, executor="local", partition_rows=1500, progress=False))
    assert (a.manifest["model_name"], b.manifest["model_name"]) == ("a", "b")
    assert _numbers(a) == _numbers(b)  # the same model under two names


def test_memory_executor_reads_a_folder_and_a_glob(scale_files, tmp_path):
    from audit.data.loading import table_sha256

    policy = write_policy(tmp_path, scale_files, CHECKS)
    folder = run_audit(load_policy(policy), RunOptions(trust_model=True, progress=False))
    pattern = str(scale_files["folder"] / "part-*.parquet")
    glob = run_audit(load_policy(policy), RunOptions(trust_model=True, progress=False, data=pattern))
    one = run_audit(load_policy(policy), RunOptions(trust_model=True, progress=False, data=str(scale_files["file"])))
    assert _numbers(folder) == _numbers(glob) == _numbers(one)
    assert folder.manifest["files"]["data"]["rows"] == 4000
    assert folder.manifest["files"]["data"]["sha256"] == table_sha256(pattern) != table_sha256(scale_files["file"])


def test_glob_in_policy_must_match(scale_files, tmp_path):
    from audit.errors import PolicyError

    policy = write_policy(tmp_path, scale_files, CHECKS)
    policy.write_text(policy.read_text().replace(f"path: {scale_files['folder']}",
                                                 f"path: {scale_files['folder']}/nothing-*.parquet"))
    with pytest.raises(PolicyError, match="no file matches the pattern"):
        load_policy(policy)
