"""One pipeline: the same data, policy and seed give the same results.json on every executor.

The demo policy and the robustness policy (every perturbed and shifted kind; timing checks
aside) run in memory (one partition), locally in 1,000-row partitions on one and two threads,
locally in one whole-table partition on two threads, and on a two-worker Dask LocalCluster.
Every check result (value, interval, groups, details, message, verdict) and every
evaluation-set description must be equal field by field; only durations and wall-clock
timings may differ. The numbers computed from counts are also checked against scikit-learn.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score

from audit.policy import load_policy
from audit.runner import RunOptions, run_audit
from tests.scale.conftest import write_policy

ROOT = Path(__file__).resolve().parents[2]
EXTRA = [  # kinds the two policies do not use: MCAR and MNAR missingness, a temporal split
    {"id": "robustness.metric_drop", "evalset": "perturbed.missing@0.1"},
    {"id": "robustness.flip_rate", "evalset": "missing_high_income"},
    {"id": "data.missing_values", "evalset": "perturbed.missing@0.1"},
    {"id": "performance.accuracy", "evalset": "latest_histories"},
    {"id": "robustness.metric_drop", "evalset": "latest_histories"},
]
EXTRA_SETS = {
    # The demo's attack at a test-sized budget (black-box HopSkipJump on this imputing pipeline).
    "adv": {"kind": "adversarial", "severity": 0.1, "params": {"sample_size": 40, "max_queries": 150}},
    "missing_high_income": {"kind": "perturbed.missing", "severity": 0.2,
                            "params": {"mechanism": "mnar", "feature": "income"}},
    "latest_histories": {"kind": "shifted.temporal", "severity": 0.3,
                         "params": {"time_column": "credit_history_months"}},
}


def _policy_parts():
    checks: list = []
    evalsets = {}
    for name in ("demo.yaml", "robustness.yaml"):
        p = yaml.safe_load((ROOT / "policies" / name).read_text())
        evalsets.update(p.get("evalsets") or {})
        # Latency checks measure this machine's speed: their numbers are timings, left out here.
        for c in p["checks"]:
            key = (c["id"], c.get("evalset"), repr(sorted((c.get("params") or {}).items())), c.get("name"))
            if not c["id"].startswith("latency.") and key not in {k for k, _ in checks}:
                checks.append((key, {**c, "evalset": "adv"} if c.get("evalset") == "adversarial@0.1" else c))
    return [c for _, c in checks] + [{**c, "threshold": {"max": 1e9}} for c in EXTRA], {**evalsets, **EXTRA_SETS}


def _run(policy, **kw):
    return run_audit(load_policy(policy), RunOptions(progress=False, trust_model=True, **kw))


def _values(result):
    """Everything results.json holds of the checks and sets, durations and timings aside."""
    rows = []
    for r in result.results:
        d = r.model_dump(mode="json")
        d.pop("duration_s", None)
        d["details"].pop("timings", None)
        rows.append(d)
    return rows, result.evalsets


@pytest.fixture(scope="module")
def runs(scale_files, tmp_path_factory):
    checks, evalsets = _policy_parts()
    policy = write_policy(tmp_path_factory.mktemp("pipeline"), scale_files, checks, evalsets=evalsets,
                          execution={"sample_rows": 1500})
    return run_on_every_executor(policy)


def run_on_every_executor(policy) -> dict:
    """The audit of ``policy`` in memory, locally (1,000-row partitions on 1 and 2 workers, the
    whole table on 2) and on Dask when it is installed, by executor name."""
    out = {
        "memory": _run(policy, executor="memory"),
        "local-1000x1": _run(policy, executor="local", partition_rows=1000, workers=1),
        "local-1000x2": _run(policy, executor="local", partition_rows=1000, workers=2),
        "local-whole-x2": _run(policy, executor="local", partition_rows=4000, workers=2),
    }
    try:
        import distributed  # noqa: F401
    except ImportError:
        return out
    out["dask-1000x2"] = _run(policy, executor="dask", partition_rows=1000, workers=2)
    return out


def test_results_identical_on_every_executor(runs):
    ref_rows, ref_sets = _values(runs["memory"])
    assert len(ref_rows) > 40
    errors = [(r["id"], r["evalset"], r["message"]) for r in ref_rows if r["verdict"] == "ERROR"]
    assert not errors, errors
    for name, res in runs.items():
        rows, sets = _values(res)
        for a, b in zip(ref_rows, rows, strict=True):
            assert a == b, f"{name}: {a['id']} [{a['evalset']}] differs from the in-memory audit"
        assert sets == ref_sets, name
    assert runs["dask-1000x2"].manifest["execution"]["executor"] == "dask" if "dask-1000x2" in runs else True


def test_every_kind_was_exercised(runs):
    kinds = {d["kind"] for d in runs["memory"].evalsets.values()}
    assert {"perturbed.noise", "perturbed.missing", "perturbed.category_swap", "perturbed.dropout",
            "perturbed.scale", "perturbed.rounding", "perturbed.outliers", "shifted.covariate",
            "shifted.label_prior", "shifted.subpopulation", "shifted.temporal"} <= kinds


def test_scope_says_where_numbers_come_from(runs):
    res = runs["local-1000x2"]
    scope = {(r.id, r.evalset): r.details["scope"] for r in res.results if r.verdict.value != "SKIPPED"}
    assert scope[("performance.accuracy", "base")] == {"rows": 4000, "source": "all rows"}
    assert scope[("robustness.metric_drop", "perturbed.noise@0.2")]["source"] == "all rows"
    m = res.manifest["execution"]
    k = m["sample_rows"]  # 1,500 asked; every stratum (label x sex x age band) keeps at least 200 rows
    assert 1500 <= k < 4000
    leak = scope[("data.single_feature_leakage", "base")]
    assert leak == {"rows": k, "source": f"stratified sample of {k:,} of 4,000 rows"}
    assert m["executor"] == "local" and m["partitions"] == 4 and m["rows"] == 4000
    sets = res.evalsets
    assert sets["base"]["rows"] == 4000
    assert sets["perturbed.noise@0.2"]["built_on"] == "all rows" and sets["perturbed.noise@0.2"]["rows"] == 4000
    assert sets["missing_high_income"]["built_on"] == f"stratified sample of {k:,} of 4,000 rows"
    assert abs(sets["more_women"]["rows"] - 4000) < 5 * np.sqrt(4000)  # Poisson: n rows expected


def test_numbers_match_scikit_learn(runs, scale_files):
    import skops.io as sio

    df = pd.read_parquet(scale_files["file"])
    model = sio.load(scale_files["model"], trusted=sio.get_untrusted_types(file=scale_files["model"]))
    X = df.drop(columns=["repaid", "age_band"])
    p = model.predict_proba(X)[:, 1]
    yhat = model.classes_[model.predict_proba(X).argmax(1)]
    res = {r.id: r for r in runs["local-1000x2"].results if r.evalset == "base"}
    assert res["performance.accuracy"].value == pytest.approx(accuracy_score(df["repaid"], yhat), abs=1e-12)
    assert res["performance.brier_score"].value == pytest.approx(brier_score_loss(df["repaid"], p), rel=1e-12)
    tied = res["performance.roc_auc"].details["tied_pair_share"]
    assert abs(res["performance.roc_auc"].value - roc_auc_score(df["repaid"], p)) <= tied / 2 + 1e-12
    sel = pd.Series(yhat == 1).groupby(df["sex"].to_numpy()).mean()
    dpr = res["fairness.demographic_parity_ratio"]
    sex = [g for g in dpr.groups if g.group.startswith("sex=") and " & " not in g.group]
    assert {g.group: g.value for g in sex} == pytest.approx({f"sex={k}": v for k, v in sel.items()}, abs=1e-12)


def test_missing_values_counted_on_all_rows(runs, scale_files):
    res = next(r for r in runs["local-1000x2"].results if r.id == "data.missing_values"
               and r.evalset == "perturbed.missing@0.1")
    assert res.n == 4000
    df = pd.read_parquet(scale_files["file"])
    # MCAR at 10% on top of the data's own missing incomes: the share is near 0.1 + 0.9 * base share.
    base = df["income"].isna().mean()
    inc = next(g for g in res.groups if g.group == "income")
    assert inc.value == pytest.approx(0.1 + 0.9 * base, abs=0.02)
