"""Streamed audits give the same numbers on every executor and partitioning, and the numbers
an in-memory audit (and scikit-learn) give where they are computed from exact counts."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score

from audit.policy import load_policy
from audit.runner import RunOptions, run_audit
from tests.scale.conftest import write_policy

# Checks computed from merged summaries, and checks that run on the sample.
CHECKS = [
    {"id": "performance.accuracy"},
    {"id": "performance.balanced_accuracy"},
    {"id": "performance.f1"},
    {"id": "performance.roc_auc"},
    {"id": "performance.brier_score"},
    {"id": "performance.log_loss"},
    {"id": "performance.expected_calibration_error"},
    {"id": "fairness.demographic_parity_ratio", "params": {"sensitive": ["sex", "age_band"], "groups": "both"}},
    {"id": "fairness.equalized_odds_difference", "params": {"sensitive": ["sex"]}},
    {"id": "robustness.metric_drop", "evalset": "perturbed.noise@0.2",
     "params": {"severities": [0.1, 0.5], "kind": "perturbed.noise"}},
    {"id": "robustness.flip_rate", "evalset": "perturbed.category_swap@0.2"},
    {"id": "robustness.group_degradation_gap", "evalset": "shifted.label_prior@0.3", "params": {"sensitive": ["sex"]}},
    {"id": "performance.accuracy", "evalset": "shifted.subpopulation", "params": {}},
    {"id": "data.missing_values", "evalset": "perturbed.missing@0.1"},
    {"id": "data.train_test_duplicates"},
    {"id": "data.class_balance"},
    {"id": "data.group_representation", "params": {"intersectional": True}},
    {"id": "shift.prediction_drift"},
    {"id": "shift.feature_drift"},
    # On the sample:
    {"id": "shift.feature_drift", "params": {"numeric_test": "cvm"}},
    {"id": "ood.detection_auroc", "params": {"detector": "iforest"}},
    {"id": "data.single_feature_leakage"},
    {"id": "fairness.calibration_difference", "params": {"sensitive": ["sex"]}},
]
EVALSETS = {"shifted.subpopulation": {"kind": "shifted.subpopulation", "severity": 1, "params": {"group": "age_band=<25"}}}


def _checks():
    # Thresholds do not matter here: the numbers do.
    return [{**c, "threshold": {"max": 1e9}} for c in CHECKS]


def _policy(scale_files, tmp_path, **execution):
    return write_policy(tmp_path, scale_files, _checks(), evalsets=EVALSETS,
                        execution={"sample_rows": 1500, **execution})


def _values(result):
    """Everything a reviewer reads in results.json except timings."""
    rows = []
    for r in result.results:
        d = r.model_dump(mode="json")
        d.pop("duration_s", None)
        rows.append(d)
    return rows, {k: v for k, v in result.evalsets.items()}


def _run(policy, **kw):
    return run_audit(load_policy(policy), RunOptions(progress=False, **kw))


@pytest.fixture(scope="module")
def runs(scale_files, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    policy = _policy(scale_files, tmp)
    return {
        "local-1000x2": _run(policy, executor="local", partition_rows=1000, workers=2),
        "local-4000x1": _run(policy, executor="local", partition_rows=4000, workers=1),
        # One file instead of three: other piece boundaries, same table.
        "local-file-1700": _run(policy, executor="local", partition_rows=1700, data=str(scale_files["file"])),
        "memory": _run(policy, executor="memory", data=str(scale_files["file"])),
    }


@pytest.fixture(scope="module")
def dask_run(scale_files, tmp_path_factory):
    """The Dask run, or None without the dask extra (the local comparisons still run)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return None
    policy = _policy(scale_files, tmp_path_factory.mktemp("dask"))
    # A LocalCluster of two worker processes, and a third partitioning.
    return _run(policy, executor="dask", partition_rows=1500, workers=2)


def test_results_identical_across_executors_and_partitionings(runs, dask_run):
    ref_rows, ref_sets = _values(runs["local-1000x2"])
    assert all(r["verdict"] != "ERROR" for r in ref_rows), [r["message"] for r in ref_rows if r["verdict"] == "ERROR"]
    others = [(n, runs[n]) for n in ("local-4000x1", "local-file-1700")]
    others += [("dask-1500x2", dask_run)] if dask_run is not None else []
    for name, res in others:
        rows, sets = _values(res)
        for a, b in zip(ref_rows, rows, strict=True):
            assert a == b, f"{name}: {a['id']} [{a['evalset']}] differs"
        assert sets == ref_sets


def test_streamed_and_sampled_checks_are_labelled(runs, dask_run):
    res = runs["local-1000x2"]
    scope = {(r.id, r.evalset): r.details["scope"]["source"] for r in res.results}
    assert scope[("performance.accuracy", "base")] == "all rows, streamed"
    assert scope[("robustness.metric_drop", "perturbed.noise@0.2")] == "all rows, streamed"
    assert scope[("data.single_feature_leakage", "base")].startswith("stratified sample of ")
    assert scope[("data.single_feature_leakage", "base")].endswith(" of 4,000 rows")
    m = res.manifest
    assert m["execution"]["executor"] == "local" and m["execution"]["partitions"] == 4
    assert m["execution"]["rows"] == 4000
    assert m["execution"]["streamed_checks"] == 19
    if dask_run is not None:
        assert dask_run.manifest["execution"]["executor"] == "dask"
        assert dask_run.manifest["execution"]["partitions"] == 3
        assert dask_run.manifest["execution"]["workers"] == 2


def test_count_metrics_equal_the_in_memory_audit(runs):
    mem = {(r.id, r.evalset, i): r for i, r in enumerate(runs["memory"].results)}
    st = {(r.id, r.evalset, i): r for i, r in enumerate(runs["local-1000x2"].results)}
    exact = ["performance.accuracy", "performance.balanced_accuracy", "performance.f1",
             "fairness.demographic_parity_ratio", "fairness.equalized_odds_difference",
             "data.train_test_duplicates", "shift.prediction_drift", "shift.feature_drift",
             "data.class_balance", "data.group_representation"]
    for key, r in mem.items():
        if key[0] in exact and key[1] == "base" and r.params.get("numeric_test") != "cvm":
            s = st[key]
            assert s.value == pytest.approx(r.value, abs=1e-12), key
            if r.interval is not None:  # same counts, same bootstrap
                assert s.interval.low == pytest.approx(r.interval.low, abs=1e-12), key
            assert [g.value for g in s.groups] == pytest.approx([g.value for g in r.groups], abs=1e-12)
            assert [g.extra for g in s.groups] == [g.extra for g in r.groups], key
        if key[0] in ("performance.brier_score", "performance.log_loss", "performance.expected_calibration_error"):
            assert st[key].value == pytest.approx(r.value, abs=1e-8), key  # fixed point: 2**-32 per row


def test_numbers_match_scikit_learn(runs, scale_files):
    import skops.io as sio

    df = pd.read_parquet(scale_files["file"])
    model = sio.load(scale_files["model"], trusted=sio.get_untrusted_types(file=scale_files["model"]))
    X = df.drop(columns=["repaid", "age_band"])
    p = model.predict_proba(X)[:, 1]
    yhat = model.classes_[model.predict_proba(X).argmax(1)]
    res = {r.id: r for r in runs["local-4000x1"].results if r.evalset == "base"}
    assert res["performance.accuracy"].value == pytest.approx(accuracy_score(df["repaid"], yhat), abs=1e-12)
    assert res["performance.brier_score"].value == pytest.approx(brier_score_loss(df["repaid"], p), abs=1e-8)
    tied = res["performance.roc_auc"].details["tied_pair_share"]
    assert res["performance.roc_auc"].value == pytest.approx(roc_auc_score(df["repaid"], p), abs=tied / 2 + 1e-12)
    sel = pd.Series(yhat == 1).groupby(df["sex"].to_numpy()).mean()
    dpr = res["fairness.demographic_parity_ratio"]
    sex = [g for g in dpr.groups if g.group.startswith("sex=") and " & " not in g.group]
    assert {g.group: g.value for g in sex} == pytest.approx({f"sex={k}": v for k, v in sel.items()}, abs=1e-12)


def test_missing_values_counted_on_all_rows(runs, scale_files):
    res = next(r for r in runs["local-4000x1"].results if r.id == "data.missing_values")
    assert res.n == 4000
    df = pd.read_parquet(scale_files["file"])
    # MCAR at 10% on top of the data's own missing incomes: the share is near 0.1 + 0.9 * base share.
    base = df["income"].isna().mean()
    inc = next(g for g in res.groups if g.group == "income")
    assert inc.value == pytest.approx(0.1 + 0.9 * base, abs=0.02)


def test_streamed_evalsets_described_on_all_rows(runs):
    sets = runs["local-1000x2"].evalsets
    assert sets["base"]["rows"] == 4000
    assert sets["perturbed.noise@0.2"]["rows"] == 4000 and sets["perturbed.noise@0.2"]["built_on"] == "all rows"
    # Poisson resampling: the expected size is the base size.
    assert abs(sets["shifted.subpopulation"]["rows"] - 4000) < 4 * np.sqrt(4000)
