"""White-box views of the audited model for ART, and the gradient attacks run on them.

The demo model is a pipeline: scaler and one-hot encoder, then a logistic
regression. ART differentiates only bare estimators, so :func:`linear_surrogate`
composes the pipeline into one exactly equivalent linear model on the attack
matrix (see its docstring); SVCs and trees on numeric inputs are wrapped as
they are; PyTorch modules get an affine input layer.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from audit.adversarial._model import ModelInfo, Target, WhiteBox

__all__ = ["white_box", "gradient_attack", "tree_attack"]


def white_box(target: Target, info: ModelInfo) -> WhiteBox:
    """The ART classifier for ``info.family`` in {linear, svc, tree, torch}; the tree view for ensembles."""
    if info.family == "tree_ensemble":
        return _tree_ensemble(target, info)
    if info.family == "linear":
        return linear_surrogate(target, info)
    if info.family in ("svc", "tree"):
        return _raw_sklearn(target, info)
    if info.family == "torch":
        return _torch(target)
    raise ValueError(f"no white-box view for a {info.family} model")


def _dense(a) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def linear_surrogate(target: Target, info: ModelInfo) -> WhiteBox:
    """An exact linear model on ``[U, offsets]`` equivalent to the pipeline on these rows.

    With preprocessing ``T`` affine in the numeric features (StandardScaler,
    MinMaxScaler, passthrough; one-hot columns are constant here because
    categories are frozen), the logits are ``W T(x) + b = coef_u . u + o_row``:
    ``coef_u`` is the chain rule ``W J^T diag(scale)`` with ``J`` the (constant)
    Jacobian of ``T``, and ``o_row`` carries everything the attack cannot change
    (categoricals, intercept). ``o_row`` enters as extra input columns with
    weight 1 and mask 0, so ART's own LogisticRegression/LinearSVC wrappers
    compute exact gradients. Affinity is verified numerically on the rows;
    a non-affine preprocessing raises ValueError (the caller falls back).
    """
    sp, X0 = target.space, target.X0
    pre, final = info.pre, info.final

    def T(X):
        return _dense(pre.transform(X)) if pre is not None else X[sp.columns].to_numpy(dtype=float)

    T0 = T(X0)
    J = np.zeros((sp.d, T0.shape[1]))
    for j in range(sp.d):
        step = np.zeros((len(X0), sp.d))
        step[:, j] = sp.scale[j]
        d1 = (T(sp.apply(X0, step)) - T0) / sp.scale[j]
        d2 = (T(sp.apply(X0, -2 * step)) - T0) / (-2 * sp.scale[j])
        tol = 1e-6 * (1.0 + np.abs(d1).max())
        if np.ptp(d1, axis=0).max(initial=0) > tol or np.abs(d1 - d2).max(initial=0) > tol:
            raise ValueError(f"preprocessing is not affine in {sp.columns[j]!r}")
        J[j] = d1[0]
    W = np.atleast_2d(final.coef_).astype(np.float64)
    b = np.atleast_1d(final.intercept_).astype(np.float64)
    coef_u = (W @ J.T) * sp.scale[None, :]
    U0 = target.U0.astype(np.float64)
    offs = T0 @ W.T + b - U0 @ coef_u.T
    kk = W.shape[0]
    sur = type(final)()
    sur.coef_ = np.hstack([coef_u, np.eye(kk)])
    sur.intercept_ = np.zeros(kk)
    sur.classes_ = np.arange(target.k)
    sur.n_features_in_ = sp.d + kk
    Z0 = np.hstack([U0, offs]).astype(np.float32)
    # Checked against the audited model itself (pipeline or bare) on the original rows.
    ref = target.adapter.estimator.decision_function(X0)
    got = sur.decision_function(Z0)
    if not np.allclose(np.ravel(ref), np.ravel(got), atol=1e-3 * (1 + np.abs(ref).max())):
        raise ValueError("linear surrogate does not reproduce the model's decision function")
    from art.estimators.classification.scikitlearn import SklearnClassifier

    lo = np.concatenate([sp.lo, offs.min(axis=0) - 1.0]).astype(np.float32)
    hi = np.concatenate([sp.hi, offs.max(axis=0) + 1.0]).astype(np.float32)
    clf = SklearnClassifier(sur, clip_values=(np.minimum(lo, Z0.min(0)), np.maximum(hi, Z0.max(0))))
    d = sp.d
    return WhiteBox(clf, Z0, np.concatenate([sp.mask, np.zeros(kk)]).astype(np.float32),
                    np.ones(d + kk), lambda dz: dz[:, :d] * sp.scale,
                    extra={"coef_u": coef_u, "offsets": offs})


def _raw_sklearn(target: Target, info: ModelInfo) -> WhiteBox:
    # SVC and trees take the numeric matrix itself: attack in original units and
    # turn eps (attack units) into a per-feature box of half-width eps * scale.
    import copy

    from art.estimators.classification.scikitlearn import SklearnClassifier

    sp = target.space
    model = info.final
    if info.family == "svc" and not hasattr(model, "predict_proba"):
        # scikit-learn 1.9 deprecated SVC(probability=...): the attribute is the string
        # "deprecated", which ART reads as True and then calls the missing predict_proba.
        model = copy.copy(model)
        model.probability = False
    Z0 = target.X0[sp.columns].to_numpy(dtype=np.float32)
    xlo = (sp.center + sp.lo * sp.scale).astype(np.float32)
    xhi = (sp.center + sp.hi * sp.scale).astype(np.float32)
    clf = SklearnClassifier(model, clip_values=(np.minimum(xlo, Z0.min(0)), np.maximum(xhi, Z0.max(0))))
    return WhiteBox(clf, Z0, sp.mask.astype(np.float32), sp.scale.copy(), lambda dz: dz,
                    supports_l2=bool(np.all(sp.scale == 1.0)))


def _tree_ensemble(target: Target, info: ModelInfo) -> WhiteBox:
    # Not an ART classifier: the trees read and pulled back to the numeric space (ValueError
    # with the reason when that is impossible, so `auto` falls back to HopSkipJump).
    from audit.adversarial._trees import tree_view

    sp = target.space
    view = tree_view(target, info)
    return WhiteBox(view, target.X0[sp.columns].to_numpy(dtype=np.float64), sp.mask.astype(np.float32),
                    sp.scale.copy(), lambda dz: dz, extra={"tree_view": view.info})


def _torch(target: Target) -> WhiteBox:
    import torch
    from art.estimators.classification import PyTorchClassifier

    sp = target.space
    est = target.adapter.estimator
    module = getattr(est, "module", est)

    class _FromAttackUnits(torch.nn.Module):
        # x = center + scale * u, so ART's eps is in attack units for every feature.
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.register_buffer("c", torch.tensor(sp.center, dtype=torch.float32))
            self.register_buffer("s", torch.tensor(sp.scale, dtype=torch.float32))

        def forward(self, u):
            return self.inner(u * self.s + self.c)

    net = _FromAttackUnits(module).eval()
    clf = PyTorchClassifier(net, loss=torch.nn.CrossEntropyLoss(), input_shape=(sp.d,),
                            nb_classes=target.k, clip_values=(np.minimum(sp.lo, target.U0.min(0)).astype(np.float32),
                                                              np.maximum(sp.hi, target.U0.max(0)).astype(np.float32)),
                            device_type="cpu")
    return WhiteBox(clf, target.U0.copy(), sp.mask.astype(np.float32), np.ones(sp.d),
                    lambda dz: dz * sp.scale)


def _eps_array(wb: WhiteBox, eps, n: int):
    """ART eps: a scalar when every feature has unit scale, else per-feature (and per-row) arrays."""
    if np.ndim(eps) == 0 and np.all(wb.eps_scale == 1.0):
        return float(eps)
    e = np.asarray(eps, dtype=np.float64).reshape(-1, 1) if np.ndim(eps) else np.float64(eps)
    arr = e * wb.eps_scale[None, :]
    if np.ndim(eps) == 0:
        arr = arr[0]
    return arr.astype(np.float32)


@contextlib.contextmanager
def _art_on_numpy():
    # ART hands numpy arrays to estimators fitted on DataFrames; scikit-learn's
    # "X does not have valid feature names" warning is expected there, not a user problem.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def gradient_attack(wb: WhiteBox, attack: str, eps, norm: str, y_idx: np.ndarray, max_iter: int,
                    k: int) -> np.ndarray:
    """Run FGSM, PGD or AutoAttack (APGD-CE, plus APGD-DLR with 3+ classes); return the attacked ``Z``."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    n = len(wb.Z0)
    art_norm = np.inf if norm == "inf" else 2
    e = _eps_array(wb, eps, n)
    # batch_size=n: ART broadcasts per-row eps arrays against one batch, so the batch must be all rows.
    if attack == "fgsm":
        atk = FastGradientMethod(wb.classifier, norm=art_norm, eps=e, eps_step=e, batch_size=n)
    elif attack == "pgd":
        atk = ProjectedGradientDescent(wb.classifier, norm=art_norm, eps=e, eps_step=e * 2.5 / max_iter,
                                       max_iter=max_iter, num_random_init=0, batch_size=n, verbose=False)
    elif attack == "autoattack":
        from art.attacks.evasion import AutoAttack, AutoProjectedGradientDescent

        if np.ndim(e):
            raise ValueError("AutoAttack takes one scalar epsilon for all features")
        kw = dict(norm=art_norm, eps=e, eps_step=2 * e / max_iter, max_iter=max_iter, nb_random_init=1,
                  batch_size=n, verbose=False)
        # AutoAttack keeps, per row, the first attack in the list that succeeds: starting with
        # the same PGD as `attack: pgd` makes it never weaker than PGD, APGD-CE/DLR add to it.
        attacks = [ProjectedGradientDescent(wb.classifier, norm=art_norm, eps=e, eps_step=e * 2.5 / max_iter,
                                            max_iter=max_iter, num_random_init=0, batch_size=n, verbose=False),
                   AutoProjectedGradientDescent(wb.classifier, loss_type="cross_entropy", **kw)]
        if k >= 3:
            attacks.append(AutoProjectedGradientDescent(wb.classifier, loss_type="difference_logits_ratio", **kw))
        atk = AutoAttack(wb.classifier, norm=art_norm, eps=e, eps_step=2 * e / max_iter, attacks=attacks,
                         batch_size=n)
    else:
        raise ValueError(f"unknown gradient attack {attack!r}")
    y = np.eye(k, dtype=np.float32)[y_idx]
    with _art_on_numpy():
        return atk.generate(wb.Z0.copy(), y=y, mask=wb.mask)


def tree_attack(wb: WhiteBox, y_idx: np.ndarray) -> np.ndarray:
    """ART's DecisionTreeAttack (Papernot et al.): the nearest leaf of another class, just past its threshold."""
    from art.attacks.evasion import DecisionTreeAttack
    from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier

    clf = ScikitlearnDecisionTreeClassifier(wb.classifier.model, clip_values=wb.classifier.clip_values)
    # y=None: untargeted (ART reads y as the *target* class here).
    with _art_on_numpy():
        return DecisionTreeAttack(clf, verbose=False).generate(wb.Z0.copy(), y=None)
