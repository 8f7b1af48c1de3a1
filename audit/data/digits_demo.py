"""The second demo (needs the ``torch`` extra): a small neural network on scikit-learn's digits.

scikit-learn ships the 8x8 handwritten digits (1,797 images) on disk, so
nothing is downloaded. Pixels are scaled to [0, 1]; a two-layer MLP is
trained in about a second on the CPU, seeded, so the same seed gives the same
weights. :func:`write_digits_demo` writes data, weights and a policy whose
adversarial checks attack the network with PGD and draw the robustness curve.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PIXELS", "TARGET", "make_digits_data", "train_digits_mlp", "demo_model", "write_digits_demo"]

PIXELS = [f"p{i:02d}" for i in range(64)]
TARGET = "digit"


def make_digits_data(seed: int = 0, holdout_share: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) tables: 64 pixel columns in [0, 1] and the ``digit`` target, split stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    df = pd.DataFrame((d.data / 16.0).astype(np.float64), columns=PIXELS)
    df[TARGET] = d.target.astype(np.int64)
    train, holdout = train_test_split(df, test_size=holdout_share, random_state=seed, stratify=df[TARGET])
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def train_digits_mlp(train: pd.DataFrame, seed: int = 0, epochs: int = 60, hidden: int = 64):
    """A 64-``hidden``-10 ReLU MLP (logits out) trained with Adam on full batches, seeded, CPU."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    x = torch.tensor(train[PIXELS].to_numpy(np.float32))
    y = torch.tensor(train[TARGET].to_numpy(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


@lru_cache(maxsize=2)
def demo_model(seed: int = 0):
    """The demo network as a :class:`~audit.models.torch.TorchModel` (entry point for policies).

    Retrained deterministically from the bundled data (about a second), so a
    policy can name ``audit.data.digits_demo:demo_model`` without a pickle.
    """
    from audit.models.torch import TorchModel

    train, _ = make_digits_data(seed)
    return TorchModel(train_digits_mlp(train, seed), classes=np.arange(10), columns=PIXELS)


POLICY = """\
# Adversarial audit of a small PyTorch MLP on scikit-learn's digits (8x8, pixels in [0, 1]).
# Written by audit.data.digits_demo.write_digits_demo.
version: 1
name: digits-mlp-adversarial
description: "PGD robustness of the digits demo network; robust accuracy against epsilon."
seed: {seed}
model:
  entrypoint: "audit.data.digits_demo:demo_model"   # retrains deterministically (~1 s); weights also in model.pt
data:
  path: holdout.parquet
  target: digit
  reference: train.parquet
defaults: {{confidence: 0.95, n_boot: 500, min_group_size: 30}}
constraints:   # every pixel stays a valid intensity
{constraints}
evalsets:
  pgd:          # epsilon in pixel-intensity units (0..1), L-inf, 40 PGD steps
    kind: adversarial.pgd
    severity: 0.05
    params: {{eps_units: absolute, sample_size: 300, max_iter: 40}}
checks:
  - id: adversarial.robust_accuracy
    name: "Robust accuracy under PGD at eps=0.05 (L-inf, pixel units)"
    evalset: pgd
    params: {{epsilons: [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3]}}   # the robustness curve
    threshold: {{min: 0.7, warn_min: 0.8, blocking: true}}
  - id: adversarial.attack_success_rate
    evalset: pgd
    threshold: {{max: 0.3, blocking: false}}
  - id: adversarial.empirical_robustness
    evalset: pgd
    params: {{max_eps: 0.5, steps: 6}}
    threshold: {{min: 0.05, blocking: false}}
"""


def write_digits_demo(folder: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the digits demo into ``folder``: data, network weights and a policy.

    Writes ``train.parquet``, ``holdout.parquet``, ``model.pt`` (the state
    dict, for reference; the policy uses the entry point :func:`demo_model`)
    and ``digits-adversarial.yaml``, the same bytes for the same seed. Files already
    there with the same bytes are kept; different ones are never overwritten
    (:func:`audit.data.demo.write_files` raises InputError). Returns their paths. Needs torch.
    """
    import io

    import torch

    from audit.data.demo import parquet_bytes, write_files

    train, holdout = make_digits_data(seed)
    model = demo_model(seed)
    weights = io.BytesIO()
    torch.save(model.module.state_dict(), weights)
    cons = "\n".join(f"  {p}: {{min: 0, max: 1}}" for p in PIXELS)
    files = write_files(folder, {"train.parquet": parquet_bytes(train), "holdout.parquet": parquet_bytes(holdout),
                                 "model.pt": weights.getvalue(),
                                 "digits-adversarial.yaml": POLICY.format(seed=seed, constraints=cons).encode()},
                        f"the digits demo (seed {seed})")
    return {"train": files["train.parquet"], "holdout": files["holdout.parquet"], "model": files["model.pt"],
            "policy": files["digits-adversarial.yaml"]}
