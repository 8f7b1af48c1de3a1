"""PyTorch: PGD on the small digits MLP (skipped cleanly without torch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from audit.constraints import FeatureConstraint  # noqa: E402
from audit.context import AuditContext, AuditSettings  # noqa: E402
from audit.data.dataset import Dataset  # noqa: E402
from audit.data.digits_demo import PIXELS, TARGET, demo_model, make_digits_data, write_digits_demo  # noqa: E402
from audit.evalsets import EvalSetSpec  # noqa: E402
from audit.models.torch import TorchModelAdapter, torch_adapter  # noqa: E402

EPS = [0.0, 0.05, 0.1, 0.2]


def digits_ctx(seed=0, attack="pgd", sample=60, max_iter=10):
    train, holdout = make_digits_data(0)
    ds = Dataset(holdout[PIXELS], holdout[TARGET].to_numpy(), holdout[[]])
    specs = {f"e{e}": EvalSetSpec(name=f"e{e}", kind=f"adversarial.{attack}", severity=e,
                                  params={"eps_units": "absolute", "sample_size": sample, "max_iter": max_iter})
             for e in EPS}
    return AuditContext(AuditSettings(seed=seed), ds, torch_adapter(demo_model(0)),
                        {p: FeatureConstraint(min=0.0, max=1.0) for p in PIXELS}, evalset_specs=specs)


def robust(ctx, name):
    es = ctx.evalset(name)
    return float(np.mean(ctx.predictions(name).labels == es.y)), es


def test_demo_network_is_accurate_and_seeded():
    _, holdout = make_digits_data(0)
    m = demo_model(0)
    assert np.mean(m.predict(holdout[PIXELS]) == holdout[TARGET].to_numpy()) > 0.9
    a = torch_adapter(m).predict_proba(holdout[PIXELS].iloc[:5])
    assert np.allclose(a.sum(axis=1), 1.0)


def test_pgd_robust_accuracy_decreases_with_eps():
    ctx = digits_ctx()
    accs = [robust(ctx, f"e{e}")[0] for e in EPS]
    assert ctx.evalset("e0.1").meta["report"]["attack"] == "pgd"
    assert accs[0] > 0.85
    assert all(a >= b for a, b in zip(accs, accs[1:], strict=False))
    assert accs[-1] < accs[0] - 0.3
    _, es = robust(ctx, "e0.2")
    assert es.X.to_numpy().min() >= 0.0 and es.X.to_numpy().max() <= 1.0


def test_torch_attack_is_seeded_and_auto_is_pgd():
    a = digits_ctx(seed=3, attack="auto").evalset("e0.1")
    b = digits_ctx(seed=3, attack="auto").evalset("e0.1")
    assert a.meta["report"]["attack"] == "pgd"
    assert a.X.equals(b.X)


def test_fgsm_is_no_stronger_than_pgd():
    pgd, _ = robust(digits_ctx(attack="pgd"), "e0.1")
    fgsm, _ = robust(digits_ctx(attack="fgsm"), "e0.1")
    assert pgd <= fgsm


def test_raw_module_adapter_and_demo_writer(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4))
    ad = TorchModelAdapter(net)
    assert list(ad.classes_) == [0, 1, 2, 3]
    assert ad.predict(np.zeros((2, 3), dtype=np.float32)).shape == (2,)
    paths = write_digits_demo(tmp_path)
    assert all(p.exists() for p in paths.values())
    text = paths["policy"].read_text()
    assert "audit.data.digits_demo:demo_model" in text and "p63: {min: 0, max: 1}" in text


def test_autoattack_is_no_weaker_than_pgd():
    pgd, _ = robust(digits_ctx(attack="pgd", sample=40), "e0.1")
    aa, es = robust(digits_ctx(attack="autoattack", sample=40), "e0.1")
    assert es.meta["report"]["attack"] == "autoattack"
    assert aa <= pgd
