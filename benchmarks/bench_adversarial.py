"""Time per attack per 100 attacked rows, per model type, at the default budgets.

Usage::

    python benchmarks/bench_adversarial.py [--rows 100] [--json out.json]
    python benchmarks/bench_adversarial.py --workload [--workload-rows 500]   # tree attack vs HopSkipJump

Data: 3,000 seeded rows x 20 numeric features (make_classification), eps =
0.1 standard deviations, L-inf, default parameters of the adversarial
evaluation sets (PGD 20 steps, HopSkipJump 5 iterations within 1,000
queries per row, random search 1,000 queries per row). Each cell is the
wall time to build the evaluation set (sample, attack, projection, the two
re-predictions). Also the demo credit pipeline (auto attack) and, with
torch installed, the digits MLP. Run alone: the machine is shared.

``--workload`` compares, on the standard workload of ``../shared/bench``
(50,000 training and 20,000 held-out rows; HistGradientBoosting pipeline with
sex and race one-hot encoded, ``max_iter=200, random_state=0``, and a random
forest line), HopSkipJump at a small budget with the tree-ensemble attack on
the SAME stratified rows: wall and CPU time of the attack run, success rate at
several epsilons (L-inf, std units of the training data), and the mean and
median smallest perturbation found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
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
    ap.add_argument("--workload", action="store_true", help="tree attack vs HopSkipJump on ../shared/bench")
    ap.add_argument("--workload-rows", type=int, default=500)
    ap.add_argument("--hsj-queries", type=int, default=200, help="HopSkipJump budget per row (small)")
    ap.add_argument("--hsj-iter", type=int, default=2)
    ap.add_argument("--milp-rows", type=int, default=0,
                    help="with --workload: exact minimal L-inf (MILP) of this many attacked rows of the HGB model")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.workload:
        results = workload(args.workload_rows, args.hsj_queries, args.hsj_iter, args.milp_rows)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return results
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


BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
WORKLOAD_EPS = (0.05, 0.1, 0.2, 0.3, 0.5)


def workload_models():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    def pipe(clf):
        pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"])],
                                remainder="passthrough")
        return Pipeline([("pre", pre), ("clf", clf)])

    return {
        "HGB pipeline (max_iter=200)": pipe(HistGradientBoostingClassifier(max_iter=200, random_state=0)),
        "RF pipeline (100 trees, depth 12)": pipe(RandomForestClassifier(
            n_estimators=100, max_depth=12, min_samples_leaf=20, random_state=0, n_jobs=1)),
    }


def workload(rows: int, hsj_queries: int, hsj_iter: int, milp_rows: int = 0):
    """HopSkipJump (small budget) vs the tree-ensemble attack on the same stratified rows."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(BENCH / "make_workload.py"), "--n-train", "50000", "--n-test", "20000",
                        "--out", tmp], check=True, capture_output=True)
        train = pd.read_parquet(Path(tmp) / "train_n70000.parquet")
        test = pd.read_parquet(Path(tmp) / "test_n70000.parquet")
    Xtr, ytr = train.drop(columns="y"), train["y"].to_numpy()
    Xte, yte = test.drop(columns="y"), test["y"].to_numpy()
    ref = Dataset(Xtr, ytr, train[["sex", "race"]])
    print(f"workload: 50,000 train / 20,000 test rows; {rows} stratified rows attacked; L-inf, eps in std "
          f"units; HopSkipJump budget {hsj_queries} queries/row, {hsj_iter} iterations", flush=True)
    print(f"{'model':34s} {'attack':14s} {'wall s':>7s} {'cpu s':>7s} {'attacked':>8s}  "
          + "  ".join(f"SR@{e:g}" for e in WORKLOAD_EPS) + "   mean/median pert.", flush=True)
    for name, model in workload_models().items():
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        same = None
        for attack, params in (("tree_ensemble", {}),
                               ("hopskipjump", {"max_queries": hsj_queries, "hsj_max_iter": hsj_iter})):
            specs = {f"a{e}": EvalSetSpec(name=f"a{e}", kind=f"adversarial.{attack}", severity=e,
                                          params={"sample_size": rows, **params}) for e in WORKLOAD_EPS}
            ctx = AuditContext(AuditSettings(seed=0, task="classification"),
                               Dataset(Xte, yte, test[["sex", "race"]], reference=ref), ModelAdapter(model), {},
                               evalset_specs=specs)
            w0, c0 = time.perf_counter(), time.process_time()
            first = ctx.evalset(f"a{WORKLOAD_EPS[0]}")  # the one minimising run serves every eps
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            eng = first.meta["engine"]
            # The same rows for both attacks: the sample depends on the audit seed and size only.
            same = eng.source_index if same is None else same
            assert np.array_equal(same, eng.source_index)
            n_att = int(eng.correct.sum())
            rates = [ctx.evalset(f"a{e}").meta["outcome"].valid_flip.sum() / max(n_att, 1) for e in WORKLOAD_EPS]
            dist, _ = eng.minimal_distances(10.0, 10)
            found = dist[np.isfinite(dist)]
            mean_p = float(found.mean()) if found.size else float("nan")
            med_p = float(np.median(found)) if found.size else float("nan")
            r = {"model": name, "attack": attack, "fit_s": round(fit_s, 1), "wall_s": round(wall, 2),
                 "cpu_s": round(cpu, 2), "rows": rows, "attacked": n_att,
                 "success_rate": {str(e): round(float(v), 3) for e, v in zip(WORKLOAD_EPS, rates, strict=True)},
                 "flipped_within_10": int(found.size), "mean_perturbation": round(mean_p, 4),
                 "median_perturbation": round(med_p, 4), "details": eng.attack_details}
            out.append(r)
            print(f"{name:34s} {attack:14s} {wall:7.1f} {cpu:7.1f} {n_att:8d}  "
                  + "  ".join(f"{v:6.3f}" for v in rates) + f"   {mean_p:.3f}/{med_p:.3f}", flush=True)
            if attack == "tree_ensemble" and milp_rows and name.startswith("HGB"):
                out.append(milp_gap(model, eng, dist, milp_rows))
    return out


def milp_gap(model, eng, found, n_rows: int) -> dict:
    """Exact minimal L-inf perturbation of a few attacked rows (Kantchelian et al. 2016 MILP).

    Independent of the attack's code: it reads the HistGradientBoosting nodes
    itself, and scipy's HiGHS solves, per row, min b subject to one leaf per tree
    consistent with binary "x_j <= threshold" variables, the score on the other
    side of 0, and b at least the (std-unit) distance to every crossed threshold.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    pre, hgb = model[:-1], model[-1]
    names = list(pre.get_feature_names_out())
    sp = eng.space
    cols = {names.index(f"remainder__{c}"): j for j, c in enumerate(sp.columns)}  # passthrough numerics
    rows = np.flatnonzero(eng.correct)[:n_rows]
    T0 = pre.transform(eng.target.X0.iloc[rows])
    T0 = np.asarray(T0.toarray() if hasattr(T0, "toarray") else T0, dtype=float)
    base = float(np.ravel(hgb._baseline_prediction)[0])
    trees = [p[0].nodes for p in hgb._predictors]
    thr = {}
    for nd in trees:
        for node in nd[nd["is_leaf"] == 0]:
            if int(node["feature_idx"]) in cols:
                thr.setdefault(int(node["feature_idx"]), set()).add(float(node["num_threshold"]))
    pvar, k = {}, 0
    for c in sorted(thr):
        for t in sorted(thr[c]):
            pvar[(c, t)] = k
            k += 1
    exact, times = [], []
    for r, i in enumerate(rows):
        t0 = time.perf_counter()
        x = T0[r]
        nv = k + sum(int(nd["is_leaf"].sum()) for nd in trees) + 1  # p's, leaves, b
        A, lo, hi = [], [], []
        lb, ub = np.zeros(nv), np.ones(nv)
        ub[-1] = np.inf
        integ = np.zeros(nv)
        integ[:k] = 1
        score = np.zeros(nv)
        off = k
        for nd in trees:
            leaf_ids = np.flatnonzero(nd["is_leaf"])
            pos = {int(n): off + q for q, n in enumerate(leaf_ids)}
            A.append({pos[int(n)]: 1.0 for n in leaf_ids}), lo.append(1.0), hi.append(1.0)
            for n in leaf_ids:
                score[pos[int(n)]] = nd[n]["value"]

            def leaves(n, nd=nd, pos=pos):
                if nd[n]["is_leaf"]:
                    return [pos[int(n)]]
                return leaves(nd[n]["left"]) + leaves(nd[n]["right"])

            for n in np.flatnonzero(nd["is_leaf"] == 0):
                f, t = int(nd[n]["feature_idx"]), float(nd[n]["num_threshold"])
                left, right = leaves(nd[n]["left"]), leaves(nd[n]["right"])
                if f in cols:  # sum(left leaves) <= p ; sum(right leaves) <= 1 - p
                    p = pvar[(f, t)]
                    A.append({**{q: 1.0 for q in left}, p: -1.0}), lo.append(-np.inf), hi.append(0.0)
                    A.append({**{q: 1.0 for q in right}, p: 1.0}), lo.append(-np.inf), hi.append(1.0)
                else:  # a frozen column: the branch the row does not take is closed
                    for q in (right if x[f] <= t else left):
                        ub[q] = 0.0
            off += len(leaf_ids)
        for (f, t), p in pvar.items():
            j = cols[f]
            cost = abs(t - x[f]) / sp.scale[j]
            xlo, xhi = sp.center[j] + sp.lo[j] * sp.scale[j], sp.center[j] + sp.hi[j] * sp.scale[j]
            if x[f] <= t:  # crossing means x' > t: b >= cost * (1 - p)
                A.append({p: cost, nv - 1: 1.0}), lo.append(cost), hi.append(np.inf)
                if t >= xhi:
                    lb[p] = 1.0  # cannot go above the valid range
            else:  # crossing means x' <= t: b >= cost * p
                A.append({p: -cost, nv - 1: 1.0}), lo.append(0.0), hi.append(np.inf)
                if t < xlo:
                    ub[p] = 0.0
        # Ordered thresholds of one feature: x <= t_a implies x <= t_b for t_a < t_b.
        by_f = {}
        for (f, t), p in pvar.items():
            by_f.setdefault(f, []).append((t, p))
        for lst in by_f.values():
            lst.sort()
            for (_, pa), (_, pb) in zip(lst, lst[1:], strict=False):
                A.append({pa: 1.0, pb: -1.0}), lo.append(-np.inf), hi.append(0.0)
        y1 = eng.y[i] == hgb.classes_[1]
        sc = dict(enumerate(score[:-1]))
        sc = {q: v for q, v in sc.items() if v}
        if y1:  # flip to class 0: raw <= 0 (a hair below, to be strict)
            A.append(sc), lo.append(-np.inf), hi.append(-base - 1e-9)
        else:
            A.append(sc), lo.append(-base + 1e-9), hi.append(np.inf)
        M = sparse.lil_matrix((len(A), nv))
        for q, row in enumerate(A):
            for c, v in row.items():
                M[q, c] = v
        c = np.zeros(nv)
        c[-1] = 1.0
        res = milp(c, constraints=LinearConstraint(M.tocsr(), lo, hi), integrality=integ,
                   bounds=Bounds(lb, ub), options={"time_limit": 300})
        exact.append(res.fun if res.status == 0 else np.nan)
        times.append(time.perf_counter() - t0)
    exact = np.array(exact)
    att = found[rows]
    ok = np.isfinite(exact)
    if not ok.any():
        print(f"MILP: no row solved within the time limit ({len(rows)} tried)", flush=True)
        return {"milp_rows": int(len(rows)), "solved": 0}
    ratio = att[ok] / np.maximum(exact[ok], 1e-12)
    equal = float(np.mean(np.abs(att[ok] - exact[ok]) <= 1e-4 * (1 + exact[ok])))
    print(f"MILP (exact L-inf, {ok.sum()}/{len(rows)} rows solved, {np.median(times):.1f} s/row median): "
          f"tree attack equal to exact on {equal:.0%} of rows, distance ratio mean {ratio.mean():.3f}, "
          f"max {ratio.max():.3f}; exact mean {exact[ok].mean():.3f} vs attack {att[ok].mean():.3f}", flush=True)
    return {"milp_rows": int(len(rows)), "solved": int(ok.sum()), "equal_share": equal, "ratio_mean": float(ratio.mean()),
        "ratio_max": float(ratio.max()), "exact_mean": float(exact[ok].mean()), "attack_mean": float(att[ok].mean())}


if __name__ == "__main__":
    main()
