"""Model identity in the manifest: entry points by their module file, torch networks by their weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from audit.models.loading import load_model, model_manifest


def test_entry_point_recorded_with_its_module_file_hash():
    spec = "sklearn.dummy:DummyClassifier"  # a class with predict: used as the model object
    adapter = load_model(entrypoint=spec, trust=True)
    entry = model_manifest(adapter)
    import sklearn.dummy

    path = Path(sklearn.dummy.__file__).resolve()
    assert entry["module_file"] == str(path)
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["source"] == spec


def test_torch_entry_point_has_module_and_weights_hash(tmp_path):
    torch = pytest.importorskip("torch")
    import audit.data.digits_demo as dd
    from audit.models.torch import weights_sha256

    entry = model_manifest(load_model(entrypoint="audit.data.digits_demo:demo_model", trust=True))
    assert entry["sha256"] == hashlib.sha256(Path(dd.__file__).read_bytes()).hexdigest()
    paths = dd.write_digits_demo(tmp_path, seed=0)
    # The same weights reached another way (saved to model.pt, loaded into a fresh network).
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    net.load_state_dict(torch.load(paths["model"], weights_only=True))
    assert entry["weights_sha256"] == weights_sha256(net)
    with torch.no_grad():
        net[0].bias[0] += 1e-6  # one weight moved: another hash
    assert weights_sha256(net) != entry["weights_sha256"]
