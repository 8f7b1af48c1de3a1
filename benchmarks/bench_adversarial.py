"""Time per attack per 100 attacked rows, per model type, at the default budgets.

Usage::

    python benchmarks/bench_adversarial.py [--rows 100] [--json out.json]

Data: 3,000 seeded rows x 20 numeric features (make_classification), eps =
0.1 standard deviations, L-inf, default parameters of the adversarial
evaluation sets (PGD 20 steps, HopSkipJump 5 iterations within 1,000
queries per row, random search 1,000 queries per row). Each cell is the
wall time to build the evaluation set (sample, attack, projection, the two
re-predictions). Also the demo credit pipeline (auto attack) and, with
torch installed, the digits MLP. Run alone: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.adversarial import NumericSpace, describe_model, supported_attacks  # noqa: E402
from audit.context import AuditContext, AuditSettings  # noqa: E402
from audit.data.dataset import Dataset  # noqa: E402
from audit.evalsets import EvalSetSpec  # noqa: E402
from audit.models.adapter import ModelAdapter  # noqa: E402


def models():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "LogisticRegression": LogisticRegression(max_iter=1000),
        "LinearSVC": LinearSVC(),
        "SVC rbf (500 train rows)": SVC(),
        "DecisionTree": DecisionTreeClassifier(max_depth=8, random_state=0),
        "RandomForest (100 trees)": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=0),
    }


def data(seed=0):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, random_state=seed)
    X = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(20)])
    grp = pd.DataFrame({"group": np.where(np.random.default_rng(seed).uniform(size=3000) < 0.4, "a", "b")})
    return X, y, grp


def time_attack(adapter, X, y, sens, attack, rows, constraints=None, reference=None, **params):
    ds = Dataset(X, y, sens, reference=reference)
    spec = EvalSetSpec(name="a", kind=f"adversarial.{attack}", severity=0.1,
                       params={"sample_size": rows, **params})
    ctx = AuditContext(AuditSettings(seed=0), ds, adapter, constraints or {}, evalset_specs={"a": spec})
    t0 = time.perf_counter()
    es = ctx.evalset("a")
    dt = time.perf_counter() - t0
    acc = float(np.mean(ctx.predictions("a").labels == es.y))
    rep = es.meta["report"]
    return {"attack": rep["attack"], "seconds": round(dt, 3), "per_100_rows_s": round(dt * 100 / rows, 3),
            "robust_accuracy": round(acc, 3), "max_queries_per_row": rep["max_queries_per_row"],
            "discarded": rep["discarded_invalid"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    X, y, sens = data()
    results = []
    # Warm-up: import ART once so the first cell does not pay for it.
    import art.attacks.evasion  # noqa: F401
    import art.estimators.classification  # noqa: F401

    for name, model in models().items():
        n_fit = 500 if name.startswith("SVC") else 2000
        model.fit(X.iloc[:n_fit], y[:n_fit])
        Xh, yh, sh = X.iloc[2000:].reset_index(drop=True), y[2000:], sens.iloc[2000:].reset_index(drop=True)
        adapter = ModelAdapter(model)
        info = describe_model(model, NumericSpace.build(Xh, {}, {}), list(Xh.columns))
        for attack in supported_attacks(info):
            r = time_attack(adapter, Xh, yh, sh, attack, args.rows)
            results.append({"model": name, **r})
            print(f"{name:28s} {attack:14s} {r['per_100_rows_s']:8.3f} s/100 rows  "
                  f"robust acc {r['robust_accuracy']:.3f}  max queries/row {r['max_queries_per_row']}", flush=True)
    results += demo_pipeline(args.rows)
    results += torch_mlp(args.rows)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


def demo_pipeline(rows):
    from audit.constraints import FeatureConstraint
    from audit.data.demo import FEATURES, SENSITIVE, TARGET, make_credit_data, train_demo_model

    d = make_credit_data(8000, seed=0)
    tr, ho = d.iloc[:6000].reset_index(drop=True), d.iloc[6000:].reset_index(drop=True)
    model = train_demo_model(tr)
    ref = Dataset(tr[FEATURES], tr[TARGET].to_numpy(), tr[SENSITIVE])
    cons = {"sex": FeatureConstraint(immutable=True),
            "age": FeatureConstraint(immutable=True, integer=True, min=18, max=100)}
    out = []
    for attack in ("auto", "fgsm", "random_search", "hopskipjump"):
        r = time_attack(ModelAdapter(model), ho[FEATURES], ho[TARGET].to_numpy(), ho[SENSITIVE], attack, rows,
                        constraints=cons, reference=ref)
        out.append({"model": "demo credit pipeline", **r})
        print(f"{'demo credit pipeline':28s} {r['attack']:14s} {r['per_100_rows_s']:8.3f} s/100 rows  "
              f"robust acc {r['robust_accuracy']:.3f}  discarded {r['discarded']}", flush=True)
    return out


def torch_mlp(rows):
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: MLP skipped")
        return []
    from audit.constraints import FeatureConstraint
    from audit.data.digits_demo import PIXELS, TARGET, demo_model, make_digits_data
    from audit.models.torch import torch_adapter

    _, ho = make_digits_data(0)
    adapter = torch_adapter(demo_model(0))
    cons = {p: FeatureConstraint(min=0.0, max=1.0) for p in PIXELS}
    out = []
    for attack in ("fgsm", "pgd", "autoattack", "random_search", "hopskipjump"):
        r = time_attack(adapter, ho[PIXELS], ho[TARGET].to_numpy(), ho[[]], attack, rows, constraints=cons,
                        eps_units="absolute")
        out.append({"model": "torch MLP (digits, eps 0.1 abs)", **r})
        print(f"{'torch MLP (digits)':28s} {attack:14s} {r['per_100_rows_s']:8.3f} s/100 rows  "
              f"robust acc {r['robust_accuracy']:.3f}  max queries/row {r['max_queries_per_row']}", flush=True)
    return out


if __name__ == "__main__":
    main()
