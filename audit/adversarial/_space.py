"""The numeric space attacks run in, and the projection back to valid rows.

Attacks see a float32 matrix ``U`` of the model's numeric input columns in
*attack units*: ``u = (x - center) / scale`` with ``scale`` the feature's
spread (``eps_units="std"``) or 1 (``"absolute"``). An L-inf ball of radius
``eps`` in ``U`` is then a box of half-width ``eps * scale_j`` per feature, so
one scalar epsilon means "eps standard deviations" for every feature.
Categorical columns are not in ``U``: they are copied from the original row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.constraints import FeatureConstraint, enforce_constraints, resolve_constraints

__all__ = ["NumericSpace", "ball_clip", "distance"]


@dataclass
class NumericSpace:
    """Numeric model inputs in attack units, with masks and valid ranges.

    Attributes
    ----------
    columns : list of str
        Numeric model input columns (model order), mutable or frozen.
    center, scale : ndarray
        ``u = (x - center) / scale``.
    mask : ndarray
        1.0 where the attack may change a feature, 0.0 where it is frozen (ART convention).
    lo, hi : ndarray
        Valid range in attack units (finite).
    units : str
        ``"std"`` or ``"absolute"``.
    constraints : dict
        Resolved constraints of every model column.
    """

    columns: list[str]
    center: np.ndarray
    scale: np.ndarray
    mask: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    units: str
    constraints: dict[str, FeatureConstraint]

    @classmethod
    def build(cls, X: pd.DataFrame, feature_types: dict[str, str],
              constraints: dict[str, FeatureConstraint] | None = None,
              reference: pd.DataFrame | None = None, units: str = "std") -> NumericSpace:
        """Space of ``X``'s numeric columns; spreads and ranges from ``reference`` (else ``X``)."""
        ftypes = {c: feature_types.get(c) or _kind(X[c]) for c in X.columns}
        cols = [c for c in X.columns if ftypes[c] in ("numeric", "integer")]
        ref = reference[list(X.columns)] if reference is not None and set(X.columns) <= set(reference.columns) else None
        resolved = resolve_constraints(X, ftypes, constraints or {}, ref)
        src = ref if ref is not None else X
        vals = src[cols].to_numpy(dtype=float)
        if units == "std":
            center = np.nanmean(vals, axis=0) if len(cols) else np.zeros(0)
            scale = np.nanstd(vals, axis=0) if len(cols) else np.zeros(0)
            # A constant feature has no spread: use 1 so its unit is absolute (its range freezes it anyway).
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        elif units == "absolute":
            center, scale = np.zeros(len(cols)), np.ones(len(cols))
        else:
            raise ValueError(f"eps_units must be 'std' or 'absolute', not {units!r}")
        mask = np.array([0.0 if resolved[c].immutable else 1.0 for c in cols])
        xlo = np.array([_bound(resolved[c].min, vals[:, j], np.nanmin) for j, c in enumerate(cols)])
        xhi = np.array([_bound(resolved[c].max, vals[:, j], np.nanmax) for j, c in enumerate(cols)])
        lo, hi = (xlo - center) / scale, (xhi - center) / scale
        return cls(cols, center, scale, mask, lo, hi, units, resolved)

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def integer(self) -> np.ndarray:
        return np.array([bool(self.constraints[c].integer) for c in self.columns])

    def to_u(self, X: pd.DataFrame) -> np.ndarray:
        """Attack-unit matrix (float32, as ART computes in float32)."""
        x = X[self.columns].to_numpy(dtype=float)
        return ((x - self.center) / self.scale).astype(np.float32)

    def apply(self, X_orig: pd.DataFrame, delta: np.ndarray) -> pd.DataFrame:
        """Rows of ``X_orig`` with the numeric columns moved by ``delta`` (original units).

        Attacks report *differences*, not positions: adding them to the original
        values keeps every feature an attack did not touch bit-identical, even
        though ART computes in float32.
        """
        delta = np.asarray(delta, dtype=np.float64)
        if self.d and (X_orig.columns.size == self.d) and list(X_orig.columns) == self.columns:
            x = X_orig.to_numpy(dtype=float) + delta
            out = pd.DataFrame(x, columns=self.columns, index=X_orig.index)
            for j, c in enumerate(self.columns):  # untouched columns keep their dtype and values
                if not delta[:, j].any():
                    out[c] = X_orig[c].to_numpy()
            return out
        out = X_orig.copy()
        for j, c in enumerate(self.columns):
            if delta[:, j].any():
                out[c] = X_orig[c].to_numpy(dtype=float) + delta[:, j]
        return out

    def delta_u(self, delta_x: np.ndarray) -> np.ndarray:
        """A change in original units expressed in attack units."""
        return np.asarray(delta_x, dtype=np.float64) / self.scale

    def distance_x(self, X_new: pd.DataFrame, X_orig: pd.DataFrame, norm: str) -> np.ndarray:
        """Per-row distance between two frames in attack units, computed in float64."""
        a = X_new[self.columns].to_numpy(dtype=float)
        b = X_orig[self.columns].to_numpy(dtype=float)
        return distance(a / self.scale, b / self.scale, norm)

    def project(self, X_new: pd.DataFrame, X_orig: pd.DataFrame, eps=None, norm: str = "inf") -> pd.DataFrame:
        """Make attacked rows valid: immutables copied, ranges clipped, integers and categories kept.

        An integer feature's change is rounded to the nearest integer when that
        stays inside the L-inf ball of radius ``eps`` (attack units; scalar or
        per row; None = no ball), otherwise truncated toward the original value,
        which never leaves the ball. :func:`enforce_constraints` then copies
        immutables, clips ranges and keeps dtypes and categories.
        """
        X_new = X_new.copy()
        e = np.inf if eps is None else np.asarray(eps, dtype=np.float64)
        for j, c in enumerate(self.columns):
            if self.constraints[c].integer:
                orig = X_orig[c].to_numpy(dtype=float)
                delta = X_new[c].to_numpy(dtype=float) - orig
                near = np.round(delta)
                fits = (np.abs(near) / self.scale[j] <= e * (1 + 1e-9)) if norm == "inf" else (eps is None)
                X_new[c] = orig + np.where(fits, near, np.trunc(delta))
        return enforce_constraints(X_new, X_orig, self.constraints)


def ball_clip(U: np.ndarray, U0: np.ndarray, eps, norm: str, mask: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Project ``U`` onto the eps-ball around ``U0`` (per-row ``eps`` allowed), masked features reset.

    ``dtype`` float32 matches ART's computations; minimal-perturbation results are
    clipped in float64 so that a point placed just past a tree threshold stays past it.
    """
    eps = np.asarray(eps, dtype=np.float64).reshape(-1, 1) if np.ndim(eps) else float(eps)
    d = (np.asarray(U, dtype=np.float64) - U0) * mask
    if norm == "inf":
        d = np.clip(d, -eps, eps)
    else:
        n = np.linalg.norm(d, axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(n > eps, eps / n, 1.0)
        d = d * f
    return (U0 + d).astype(dtype)


def distance(U: np.ndarray, U0: np.ndarray, norm: str) -> np.ndarray:
    """Per-row L-inf or L2 distance in attack units."""
    d = np.asarray(U, dtype=np.float64) - np.asarray(U0, dtype=np.float64)
    if d.shape[1] == 0:
        return np.zeros(len(d))
    return np.abs(d).max(axis=1) if norm == "inf" else np.linalg.norm(d, axis=1)


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return "categorical"
    return "integer" if pd.api.types.is_integer_dtype(s) else "numeric"


def _bound(declared, vals, fn) -> float:
    if declared is not None:
        return float(declared)
    v = fn(vals) if np.isfinite(vals).any() else 0.0
    return float(v)
