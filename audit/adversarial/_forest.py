"""Tree ensembles read from fitted estimators into one flat, vectorisable form.

:func:`read_forest` turns a fitted scikit-learn tree classifier or tree
ensemble (RandomForest, ExtraTrees, GradientBoosting, HistGradientBoosting, a
single decision tree) and, when installed, an XGBoost or LightGBM classifier
(through their tree dumps) into a :class:`Forest`: every node of every tree in
flat arrays, one canonical split rule ("left iff x <= threshold", compared in
float32 where the library compares in float32), leaf values as score vectors
and the baseline the scores start from. The tree attack (``_trees.py``) works
on this form only, so supporting another library means writing one reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Forest", "read_forest", "raw_scores", "SUPPORTED"]

SUPPORTED = ("RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
             "HistGradientBoostingClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier",
             "XGBClassifier", "LGBMClassifier")


@dataclass
class Forest:
    """Every node of every tree in flat arrays (global node ids).

    Attributes
    ----------
    name : str
        Estimator class name.
    feature : ndarray of int (N,)
        Column of the estimator's input matrix split on; -1 at leaves.
    threshold : ndarray of float (N,)
        Go left iff ``x <= threshold`` (after casting ``x`` to float32 when ``f32``).
    left, right : ndarray of int (N,)
        Children (global ids); -1 at leaves.
    missing_left : ndarray of bool (N,)
        Where a missing value (NaN) goes.
    is_cat : ndarray of bool (N,)
        Categorical split: left iff the category is in ``bitsets[bitset_row[node]]``.
    value : ndarray (N, K)
        Contribution of each leaf to the K scores (zero at inner nodes).
    roots : ndarray of int (T,)
        Root node of each tree.
    baseline : ndarray (K,)
        Scores before any tree.
    f32 : bool
        The library compares float32 inputs with the thresholds.
    n_columns : int
        Columns of the input matrix.
    classes : ndarray
        The estimator's ``classes_``; score vectors with K == 1 are binary logits
        (class 1 iff the score is > 0), otherwise the class is the first argmax.
    proba : str
        How scores become probabilities: ``"mean"`` (forests: scores are the
        probabilities), ``"sigmoid"`` or ``"softmax"`` (boosting logits).
    pre : object or None
        Preprocessing inside the estimator (HistGradientBoosting's own encoder of
        categorical dtypes), applied before the trees.
    """

    name: str
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    is_cat: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: np.ndarray
    f32: bool
    n_columns: int
    classes: np.ndarray
    proba: str
    pre: Any = None
    bitsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 8), dtype=np.uint32))
    bitset_row: np.ndarray | None = None

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def k(self) -> int:
        return self.value.shape[1]

    def go_left(self, node: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Whether inputs ``x`` go left at (inner) nodes ``node`` (arrays of one shape)."""
        xc = x.astype(np.float32) if self.f32 else x
        out = xc <= self.threshold[node]
        cat = self.is_cat[node]
        if cat.any():
            v = np.where(np.isnan(x[cat]), 0, x[cat]).astype(np.int64)
            words = self.bitsets[self.bitset_row[node[cat]], np.clip(v // 32, 0, 7)]
            inside = (v >= 0) & (v < 256) & ((words >> (v % 32).astype(np.uint32)) & 1).astype(bool)
            out[cat] = inside
        nan = np.isnan(x)
        if nan.any():
            out[nan] = self.missing_left[node[nan]]
        return out

    def apply(self, T: np.ndarray) -> np.ndarray:
        """Leaf (global node id) of every row in every tree: ``(n, T)``, all trees at once."""
        T = np.asarray(T, dtype=np.float64)
        node = np.broadcast_to(self.roots, (len(T), self.n_trees)).copy()
        rows = np.broadcast_to(np.arange(len(T))[:, None], node.shape)
        while True:
            inner = self.feature[node] >= 0
            if not inner.any():
                return node
            nd, r = node[inner], rows[inner]
            left = self.go_left(nd, T[r, self.feature[nd]])
            node[inner] = np.where(left, self.left[nd], self.right[nd])

    def scores(self, T: np.ndarray) -> np.ndarray:
        """Score vectors ``(n, K)`` of the rows of the input matrix ``T``."""
        return self.baseline + self.value[self.apply(T)].sum(axis=1)

    def probabilities(self, S: np.ndarray) -> np.ndarray:
        """Class probabilities from score vectors, as the estimator computes them."""
        if self.proba == "mean":
            return S
        if self.proba == "sigmoid":
            p = 1.0 / (1.0 + np.exp(-S[:, 0]))
            return np.column_stack([1.0 - p, p])
        e = np.exp(S - S.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_idx(self, S: np.ndarray) -> np.ndarray:
        """Index into ``classes`` predicted from score vectors (ties: first class, as argmax)."""
        if self.k == 1:
            return (S[:, 0] > 0).astype(np.int64)
        return np.argmax(S, axis=1)


class _Builder:
    """Collects trees one at a time into flat arrays."""

    def __init__(self, k: int):
        self.k = k
        self.parts: list[dict] = []
        self.offset = 0

    def add(self, feature, threshold, left, right, missing_left, value_col, value, is_cat=None,
            bitset_row=None):
        n = len(feature)
        feature = np.asarray(feature, dtype=np.int64)
        leaf = feature < 0
        val = np.zeros((n, self.k))
        val[leaf, value_col] = np.asarray(value, dtype=np.float64)[leaf]
        shift = lambda a: np.where(leaf, -1, np.asarray(a, dtype=np.int64) + self.offset)  # noqa: E731
        self.parts.append({
            "feature": feature, "threshold": np.asarray(threshold, dtype=np.float64),
            "left": shift(left), "right": shift(right),
            "missing_left": np.asarray(missing_left, dtype=bool), "value": val,
            "is_cat": np.zeros(n, dtype=bool) if is_cat is None else np.asarray(is_cat, dtype=bool),
            "bitset_row": np.zeros(n, dtype=np.int64) if bitset_row is None else np.asarray(bitset_row, np.int64),
            "root": self.offset})
        self.offset += n

    def build(self, **kw) -> Forest:
        cat = lambda k: np.concatenate([p[k] for p in self.parts])  # noqa: E731
        return Forest(feature=cat("feature"), threshold=cat("threshold"), left=cat("left"), right=cat("right"),
                      missing_left=cat("missing_left"), is_cat=cat("is_cat"), value=cat("value"),
                      roots=np.array([p["root"] for p in self.parts], dtype=np.int64),
                      bitset_row=cat("bitset_row"), **kw)


def read_forest(est) -> Forest:
    """The trees of a fitted classifier as a :class:`Forest`.

    Raises
    ------
    ValueError
        For an estimator this reader does not know, a multi-output forest, a
        GradientBoosting model with a custom ``init`` estimator, or a LightGBM
        model that treats zeros as missing.
    """
    name = type(est).__name__
    if name in ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier",
                "ExtraTreeClassifier"):
        return _sklearn_forest(est, name)
    if name == "GradientBoostingClassifier":
        return _sklearn_gb(est)
    if name == "HistGradientBoostingClassifier":
        return _sklearn_hgb(est)
    if name == "XGBClassifier":
        return _xgboost(est)
    if name == "LGBMClassifier":
        return _lightgbm(est)
    raise ValueError(f"the tree attack cannot read a {name}; it reads {', '.join(SUPPORTED)}")


def _sklearn_tree_arrays(t):
    # missing_go_to_left exists since scikit-learn 1.3 (NaN support in trees).
    ml = getattr(t, "missing_go_to_left", None)
    ml = np.zeros(t.node_count, dtype=bool) if ml is None else np.asarray(ml, dtype=bool)
    feat = np.where(t.children_left < 0, -1, t.feature)
    return feat, t.threshold, t.children_left, t.children_right, ml


def _sklearn_forest(est, name) -> Forest:
    trees = [est] if name in ("DecisionTreeClassifier", "ExtraTreeClassifier") else list(est.estimators_)
    if getattr(est, "n_outputs_", 1) != 1:
        raise ValueError(f"{name} with several outputs: the tree attack reads single-output classifiers")
    k = len(est.classes_)
    b = _Builder(k)
    for tr in trees:
        t = tr.tree_
        feat, thr, lc, rc, ml = _sklearn_tree_arrays(t)
        v = t.value[:, 0, :]
        # Since scikit-learn 1.4 classifier trees store class fractions; normalise anyway so
        # weighted or older trees give the probabilities predict_proba averages.
        v = v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300)
        b.add(feat, thr, lc, rc, ml, slice(None), v / len(trees))
    return b.build(name=name, baseline=np.zeros(k), f32=True, n_columns=int(est.n_features_in_),
                   classes=np.asarray(est.classes_), proba="mean")


def _sklearn_gb(est) -> Forest:
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and type(init).__name__ != "DummyClassifier":
        raise ValueError("GradientBoostingClassifier with an init estimator: its start depends on the "
                         "inputs and is not a tree; the tree attack needs init=None or 'zero'")
    k = int(est.n_trees_per_iteration_)
    # A DummyClassifier start is the same for every row: read it off one row of zeros.
    base = np.ravel(est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32)))
    b = _Builder(k)
    for stage in est.estimators_:
        for c, tr in enumerate(stage):
            t = tr.tree_
            feat, thr, lc, rc, ml = _sklearn_tree_arrays(t)
            b.add(feat, thr, lc, rc, ml, c, t.value[:, 0, 0] * est.learning_rate)
    return b.build(name="GradientBoostingClassifier", baseline=base.astype(np.float64), f32=True,
                   n_columns=int(est.n_features_in_), classes=np.asarray(est.classes_),
                   proba="sigmoid" if k == 1 else "softmax")


def _sklearn_hgb(est) -> Forest:
    k = int(est.n_trees_per_iteration_)
    b = _Builder(k)
    bitsets = []
    nb = 0
    for stage in est._predictors:
        for c, pred in enumerate(stage):
            nd = pred.nodes
            leaf = nd["is_leaf"].astype(bool)
            raw_bits = np.asarray(pred.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
            bitsets.append(raw_bits)
            b.add(np.where(leaf, -1, nd["feature_idx"]), nd["num_threshold"], nd["left"], nd["right"],
                  nd["missing_go_to_left"], c, nd["value"], is_cat=nd["is_categorical"],
                  bitset_row=nd["bitset_idx"].astype(np.int64) + nb)
            nb += len(raw_bits)
    bits = np.concatenate(bitsets) if bitsets else np.zeros((0, 8), dtype=np.uint32)
    return b.build(name="HistGradientBoostingClassifier", baseline=np.ravel(est._baseline_prediction).astype(float),
                   f32=False, n_columns=int(est.n_features_in_), classes=np.asarray(est.classes_),
                   proba="sigmoid" if k == 1 else "softmax", pre=getattr(est, "_preprocessor", None),
                   bitsets=bits)


def _xgboost(est) -> Forest:
    booster = est.get_booster()
    names = booster.feature_names
    df = booster.trees_to_dataframe()
    if "Category" in df.columns and df["Category"].notna().any():
        raise ValueError("XGBoost model with categorical splits: the tree attack reads numeric splits only")
    n_classes = len(est.classes_)
    k = 1 if n_classes == 2 else n_classes
    npt = int(est.get_params().get("num_parallel_tree") or 1)
    n_trees = int(df["Tree"].max()) + 1 if len(df) else 0
    best = getattr(booster, "best_iteration", None)
    if best is not None:  # predict() stops at the best iteration of early stopping
        n_trees = min(n_trees, (int(best) + 1) * k * npt)
    b = _Builder(k)
    index = {n: i for i, n in enumerate(names)} if names else None
    for t, g in df[df["Tree"] < n_trees].groupby("Tree", sort=True):
        g = g.sort_values("Node")
        pos = {nid: i for i, nid in enumerate(g["ID"])}
        leaf = (g["Feature"] == "Leaf").to_numpy()
        feat = np.array([-1 if lf else (index[f] if index else int(str(f)[1:]))
                         for lf, f in zip(leaf, g["Feature"], strict=True)], dtype=np.int64)
        left, right, miss = (np.array([pos.get(v, -1) if isinstance(v, str) else -1 for v in g[c]])
                             for c in ("Yes", "No", "Missing"))
        # XGBoost goes left iff float32(x) < split; as "x <= threshold": the float32 just below split.
        split = g["Split"].to_numpy(dtype=np.float64)
        thr = np.where(leaf, 0.0, np.nextafter(split.astype(np.float32), np.float32(-np.inf)).astype(np.float64))
        b.add(feat, thr, left, right, miss == left, (t // npt) % k, g["Gain"].to_numpy(dtype=np.float64))
    return b.build(name="XGBClassifier", baseline=np.full(k, np.nan), f32=True, n_columns=int(est.n_features_in_),
                   classes=np.asarray(est.classes_), proba="sigmoid" if k == 1 else "softmax")


def _lightgbm(est) -> Forest:
    dump = est.booster_.dump_model()
    k = int(dump.get("num_tree_per_iteration", 1))
    b = _Builder(k)
    for i, info in enumerate(dump["tree_info"]):
        nodes: list[dict] = []

        def walk(node, nodes=nodes):
            me = len(nodes)
            nodes.append(node)
            if "leaf_value" not in node:
                node["_l"] = walk(node["left_child"])
                node["_r"] = walk(node["right_child"])
            return me

        walk(info["tree_structure"])
        feat, thr, left, right, ml, val = [], [], [], [], [], []
        for nd in nodes:
            if "leaf_value" in nd:
                feat.append(-1), thr.append(0.0), left.append(-1), right.append(-1), ml.append(False)
                val.append(nd["leaf_value"])
                continue
            if nd.get("decision_type", "<=") != "<=":
                raise ValueError("LightGBM model with categorical splits: the tree attack reads numeric splits only")
            miss = nd.get("missing_type", "None")
            if miss == "Zero":
                raise ValueError("LightGBM model with zero_as_missing: zeros do not follow the thresholds")
            t = float(nd["threshold"])
            feat.append(int(nd["split_feature"])), thr.append(t), left.append(nd["_l"]), right.append(nd["_r"])
            # missing_type None: LightGBM reads NaN as 0.
            ml.append(bool(nd.get("default_left", True)) if miss == "NaN" else 0.0 <= t)
            val.append(0.0)
        b.add(feat, thr, left, right, ml, i % k, val)
    return b.build(name="LGBMClassifier", baseline=np.full(k, np.nan), f32=False,
                   n_columns=int(est.n_features_in_), classes=np.asarray(est.classes_),
                   proba="sigmoid" if k == 1 else "softmax")


def raw_scores(est, T: np.ndarray) -> np.ndarray | None:
    """The library's own raw scores (``(n, K)``) where the baseline is not stored in the trees."""
    name = type(est).__name__
    if name == "XGBClassifier":
        import xgboost

        r = est.get_booster().predict(xgboost.DMatrix(T, feature_names=est.get_booster().feature_names),
                                      output_margin=True, iteration_range=est._get_iteration_range(None))
    elif name == "LGBMClassifier":
        r = est.booster_.predict(T, raw_score=True, num_iteration=getattr(est, "best_iteration_", None))
    else:
        return None
    r = np.asarray(r, dtype=np.float64)
    return r.reshape(len(T), -1)
