"""The public Python API: exported names, a notebook-style audit of DataFrames and a fitted
estimator (nothing written unless asked), the result's conveniences, and the documented
extension point."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

import audit
from audit.data.demo import FEATURES, make_credit_data, train_demo_model

EXPORTED = {"__version__", "run", "run_models", "load_policy", "validate", "register_check", "Result",
            "AuditResult", "CheckResult", "Measurement", "Verdict", "AuditError", "InputError", "PolicyError"}

POLICY = {
    "version": 1, "name": "notebook", "seed": 4,
    "data": {"path": "unused.parquet", "target": "repaid", "sensitive": ["sex", "age_band"]},
    "defaults": {"n_boot": 200},
    "checks": [
        {"id": "performance.accuracy", "threshold": {"min": 0.6}},
        {"id": "fairness.demographic_parity_ratio", "name": "Impact <ratio> & more",
         "threshold": {"min": 0.8}},
        {"id": "robustness.flip_rate", "evalset": "perturbed.noise@0.1", "threshold": {"max": 0.2}},
    ],
}


@pytest.fixture(scope="module")
def frames():
    data = make_credit_data(3000, seed=2)
    train, hold = data.iloc[:1500].reset_index(drop=True), data.iloc[1500:].reset_index(drop=True)
    return train, hold, train_demo_model(train, seed=2)


def test_exported_names():
    assert set(audit.__all__) == EXPORTED
    for name in EXPORTED:
        assert getattr(audit, name) is not None, name
    assert issubclass(audit.Result, audit.AuditResult)
    assert issubclass(audit.PolicyError, audit.InputError) and issubclass(audit.InputError, audit.AuditError)


def test_notebook_audit_writes_nothing(frames, tmp_path, monkeypatch):
    train, hold, model = frames
    monkeypatch.chdir(tmp_path)
    result = audit.run(POLICY, model=model, data=hold, reference=train)
    assert list(tmp_path.iterdir()) == []  # no report, no data, no model files
    assert isinstance(result, audit.Result)
    # The accuracy is scikit-learn's on the same rows.
    acc = next(r for r in result.results if r.id == "performance.accuracy")
    assert acc.value == pytest.approx(accuracy_score(hold["repaid"], model.predict(hold[FEATURES])), abs=1e-12)
    assert result.passed == (result.summary.exit_code == 0)
    assert set(result.verdicts.values()) <= set(audit.Verdict)
    assert list(result.verdicts) == [f"{r.name} [{r.evalset}]" for r in result.results]
    df = result.to_dataframe()
    assert list(df["id"]) == [r.id for r in result.results]
    assert df["value"].tolist() == pytest.approx([r.value for r in result.results])
    groups = result.to_dataframe(groups=True)
    dpr = next(r for r in result.results if r.id == "fairness.demographic_parity_ratio")
    assert (groups["id"] == dpr.id).sum() == len(dpr.groups)
    assert json.loads(result.to_json())["results"][0]["id"] == "performance.accuracy"
    html = result._repr_html_()
    assert "Impact &lt;ratio&gt; &amp; more" in html and "<ratio>" not in html
    assert "<a " not in html and "http" not in html and "<script" not in html
    for r in result.results:
        assert r.verdict.value in html


def test_same_numbers_from_files_and_frames(frames, tmp_path):
    train, hold, model = frames
    hold.to_parquet(tmp_path / "hold.parquet", index=False)
    train.to_parquet(tmp_path / "train.parquet", index=False)
    a = audit.run(POLICY, model=model, data=hold, reference=train)
    b = audit.run(POLICY, model=model, data=tmp_path / "hold.parquet", reference=tmp_path / "train.parquet")
    assert [(r.value, r.interval) for r in a.results] == [(r.value, r.interval) for r in b.results]


def test_write_report_formats(frames, tmp_path):
    train, hold, model = frames
    result = audit.run(POLICY, model=model, data=hold, reference=train)
    folder = result.write_report(tmp_path, formats=("json", "junit"))
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "policy.yaml", "results.json"]
    assert json.loads((folder / "results.json").read_text())["summary"] == result.summary.model_dump()
    with pytest.raises(audit.InputError, match="formats"):
        result.write_report(tmp_path, formats=("docx",))


def test_bad_policy_dict_names_every_problem():
    bad = {**POLICY, "checks": [{"id": "performance.acuracy", "threshold": {"minimum": 1}}]}
    with pytest.raises(audit.PolicyError) as info:
        audit.validate(bad, data_override="<given>")
    text = str(info.value)
    assert "did you mean 'performance.accuracy'" in text and "'minimum'" in text


@pytest.fixture
def registered():
    from audit.checks._registry import _REGISTRY

    before = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(before)


def test_documented_extension_point(frames, registered):
    # The example of docs/python-api.md, verbatim in spirit: a check declaring its summaries.
    from pydantic import BaseModel, ConfigDict

    from audit.results import Interval, Measurement
    from audit.stats import wilson_interval

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    @audit.register_check("myorg.positive_rate", params=Params, needs={"labels"}, tasks={"classification"},
                          summaries=lambda evalset, params, view: [("confusion", evalset, None)])
    def positive_rate(ctx, params):
        """Share of positive decisions."""
        cm, classes = ctx.summaries.confusion(ctx.evalset_name)
        pos = ctx.summaries.pos_index
        k, n = int(cm[:, pos].sum()), int(cm.sum())
        lo, hi = wilson_interval(k, n, ctx.settings.confidence)
        return Measurement(value=k / n, n=n, message=f"{k} of {n} decisions positive.",
                           interval=Interval(low=float(lo), high=float(hi), level=ctx.settings.confidence,
                                             method="wilson"))

    train, hold, model = frames
    policy = {**POLICY, "checks": [{"id": "myorg.positive_rate", "threshold": {"max": 1.0}}]}
    for executor in ("memory", "local"):
        r = audit.run(policy, model=model, data=hold, executor=executor, partition_rows=1000).results[0]
        assert r.verdict == audit.Verdict.PASS
        assert r.value == pytest.approx(float(np.mean(model.predict(hold[FEATURES]) == 1)), abs=1e-12)


def test_several_models_and_one_model_guard(frames, tmp_path):
    train, hold, model = frames
    other = train_demo_model(train.sample(frac=0.5, random_state=1).reset_index(drop=True), seed=3)
    a, b = audit.run_models(POLICY, [model, other], data=hold, reference=train)
    assert a.manifest["model_name"] != b.manifest["model_name"]
    acc = [next(r.value for r in x.results if r.id == "performance.accuracy") for x in (a, b)]
    want = [accuracy_score(hold["repaid"], m.predict(hold[FEATURES])) for m in (model, other)]
    assert acc == pytest.approx(want, abs=1e-12)


def test_cli_is_a_layer_over_the_api(tmp_path, monkeypatch):
    # `audit run` calls audit.api.run_models: the same arguments reach the same function.
    import audit.api
    from audit.cli import main

    seen = {}

    def fake(policy, models, **kw):
        seen.update(policy=policy, models=models, **kw)
        raise audit.InputError("stop here")

    monkeypatch.setattr(audit.api, "run_models", fake)
    code = main(["run", "p.yaml", "--model", "m.skops", "--seed", "3", "--executor", "local", "--quiet"])
    assert code == 2
    assert seen["policy"] == "p.yaml" and seen["models"] == ["m.skops"] and seen["seed"] == 3
    assert seen["executor"] == "local"
    assert os.environ.get("AUDIT_NOTHING") is None and not any(Path(tmp_path).iterdir())
