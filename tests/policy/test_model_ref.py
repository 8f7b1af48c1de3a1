"""The policy's model block: exactly one of path / entrypoint / mlflow; ONNX options; no trust for MLflow."""

from __future__ import annotations

import pytest

from audit.errors import PolicyError
from audit.policy import load_policy

POLICY = """\
version: 1
name: model-ref
model:
{model}
data: {{path: {data}, target: repaid, sensitive: [sex]}}
checks:
  - id: performance.accuracy
    threshold: {{min: 0.5}}
"""


def _load(tmp_path, demo_files, model_block: str):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY.format(model=model_block, data=demo_files["holdout"]))
    return load_policy(p)


def test_mlflow_uris_are_accepted(tmp_path, demo_files):
    lp = _load(tmp_path, demo_files, '  mlflow: "models:/credit/3"')
    assert lp.policy.model.mlflow == "models:/credit/3" and lp.policy.model.path is None
    lp = _load(tmp_path, demo_files, '  mlflow: "runs:/0123abcd/model"')
    assert lp.policy.model.mlflow == "runs:/0123abcd/model"


@pytest.mark.parametrize("block,where,words", [
    ('  mlflow: "s3://bucket/model"', "model.mlflow (line 4)", ["models:/<name>/<version>", "s3://bucket"]),
    ('  mlflow: "models:/credit/3"\n  trust: true', "model.trust (line 5)", ["--trust-model", "cannot grant trust"]),
    ('  mlflow: "models:/credit/3"\n  path: m.skops', "model (line 3)", ["exactly one", "'path', 'mlflow'"]),
    ("  path: m.skops\n  onnx: {label_output: y}", "model (line 3)", ["'.onnx' model file", "m.skops"]),
    ("  path: m.onnx\n  onnx: {label_outputs: y}", "model.onnx.label_outputs (line 5)",
     ["unknown key", "did you mean 'label_output'"]),
    ("  path: m.onnx\n  onnx: {scores: logit}", "model.onnx.scores (line 5)", ["'probabilities' or 'logits'"]),
])
def test_bad_model_blocks_name_key_and_line(tmp_path, demo_files, block, where, words):
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, demo_files, block)
    text = str(info.value)
    assert where in text, text
    for w in words:
        assert w in text, (w, text)
