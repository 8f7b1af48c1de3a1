"""Perturbed image-shaped inputs: noise, blur, brightness/contrast, occlusion.

For models whose features are flattened images (e.g. scikit-learn's 8x8
digits: 64 pixel columns). ``image_shape`` gives (height, width) or
(height, width, channels); by default a square single-channel image is assumed
over the pixel columns (every numeric feature, in order). Pixel values stay in
one shared valid range: the widest of the pixel columns' constraints (per-pixel
observed ranges would freeze, e.g., border pixels that are always 0).

Severity per kind: ``image_noise`` noise sd as a share of the pixel range
(default 0.1); ``blur`` Gaussian sigma in pixels (default 1.0); ``brightness``
shift as a share of the pixel range, plus contrast reduction
``contrast x severity`` (default 0.2); ``occlusion`` side of a square patch as
a share of the image side (default 0.25).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.evalsets import _tabular as T
from audit.evalsets._base import register_evalset

__all__: list[str] = []


class ImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_shape: list[int] | None = Field(None, description="(height, width[, channels]); default square.")
    columns: list[str] | None = Field(None, description="Pixel columns in order; default every numeric feature.")


class BrightnessParams(ImageParams):
    direction: Literal["up", "down"] = "up"
    contrast: float = Field(0.0, ge=0, le=1, description="Contrast reduction per unit of severity.")


class OcclusionParams(ImageParams):
    fill: Literal["min", "max", "mean"] = "min"


def _images(env, base, params):
    X = base.X
    cols = list(params.columns) if params.columns is not None else T.numeric_columns(env, X, only_mutable=False)
    T.check_columns(X, cols, "image evaluation set")
    d = len(cols)
    shape = tuple(params.image_shape) if params.image_shape else None
    if shape is None:
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(f"{d} pixel columns are not a square image; give params.image_shape")
        shape = (side, side)
    if len(shape) not in (2, 3) or math.prod(shape) != d:
        raise ValueError(f"image_shape {list(shape)} does not match {d} pixel columns")
    arr = X[cols].to_numpy(dtype=float).reshape((len(X), *shape))
    lo, hi = _pixel_range(env, X, cols)
    return cols, shape, arr, lo, hi


def _pixel_range(env, X, cols) -> tuple[float, float]:
    cons = env.constraints or {}
    los = [cons[c].min for c in cols if c in cons and cons[c].min is not None]
    his = [cons[c].max for c in cols if c in cons and cons[c].max is not None]
    v = X[cols].to_numpy(dtype=float)
    lo = min(los) if los else float(np.nanmin(v))
    hi = max(his) if his else float(np.nanmax(v))
    return lo, (hi if hi > lo else lo + 1.0)


def _done(env, base, kind, cols, arr, lo, hi, desc, report):
    X = base.X.copy()
    X[cols] = np.clip(arr.reshape(len(X), -1), lo, hi)
    # Observed per-pixel ranges are too narrow for images (a border pixel that is always 0 could
    # never receive blur or noise): pixels share one range, the widest of their constraints.
    cons = dict(env.constraints or {})
    for c in cols:
        if c in cons and not cons[c].immutable:
            cons[c] = cons[c].model_copy(update={"min": lo, "max": hi})
    return T.finish(env, base, kind, X, touched=cols, description=desc, report=report, constraints=cons)


@register_evalset("perturbed.image_noise", params=ImageParams)
def image_noise(env, base, params, severity, seed):
    """Gaussian pixel noise with sd = severity x the pixel range."""
    rng = np.random.default_rng(seed)
    s = 0.1 if severity is None else float(severity)
    cols, shape, arr, lo, hi = _images(env, base, params)
    arr = arr + rng.normal(0.0, s * (hi - lo), size=arr.shape)
    return _done(env, base, "perturbed.image_noise", cols, arr, lo, hi,
                 f"Gaussian pixel noise of {s:g} x the pixel range on {shape} images.",
                 {"image_shape": list(shape), "noise_sd_in_range": s})


@register_evalset("perturbed.blur", params=ImageParams)
def blur(env, base, params, severity, seed):
    """Gaussian blur with sigma = severity pixels (deterministic; the seed is unused)."""
    from scipy.ndimage import gaussian_filter

    s = 1.0 if severity is None else float(severity)
    cols, shape, arr, lo, hi = _images(env, base, params)
    if s > 0:
        sigma = (0.0, s, s) + ((0.0,) if len(shape) == 3 else ())
        arr = gaussian_filter(arr, sigma=sigma, mode="nearest")
    return _done(env, base, "perturbed.blur", cols, arr, lo, hi,
                 f"Gaussian blur of sigma {s:g} pixels on {shape} images.",
                 {"image_shape": list(shape), "sigma_px": s})


@register_evalset("perturbed.brightness", params=BrightnessParams)
def brightness(env, base, params, severity, seed):
    """Brightness shift of severity x the pixel range, with optional contrast reduction (deterministic)."""
    s = 0.2 if severity is None else float(severity)
    cols, shape, arr, lo, hi = _images(env, base, params)
    axes = tuple(range(1, arr.ndim))
    mean = arr.mean(axis=axes, keepdims=True)
    factor = max(0.0, 1.0 - params.contrast * s)
    sign = 1.0 if params.direction == "up" else -1.0
    arr = mean + (arr - mean) * factor + sign * s * (hi - lo)
    return _done(env, base, "perturbed.brightness", cols, arr, lo, hi,
                 f"Brightness {'raised' if sign > 0 else 'lowered'} by {s:g} x the pixel range"
                 f", contrast x {factor:g}.",
                 {"image_shape": list(shape), "shift_in_range": sign * s, "contrast_factor": factor})


@register_evalset("perturbed.occlusion", params=OcclusionParams)
def occlusion(env, base, params, severity, seed):
    """A square patch of side severity x the image side, at a random place per image, filled."""
    rng = np.random.default_rng(seed)
    s = min(0.25 if severity is None else float(severity), 1.0)
    cols, shape, arr, lo, hi = _images(env, base, params)
    n, h, w = arr.shape[0], shape[0], shape[1]
    k = int(round(s * min(h, w)))
    if k > 0:
        fill = {"min": lo, "max": hi, "mean": float(arr.mean())}[params.fill]
        top = rng.integers(0, h - k + 1, size=n)
        left = rng.integers(0, w - k + 1, size=n)
        rr = np.arange(h)[None, :, None]
        cc = np.arange(w)[None, None, :]
        mask = ((rr >= top[:, None, None]) & (rr < top[:, None, None] + k)
                & (cc >= left[:, None, None]) & (cc < left[:, None, None] + k))
        if arr.ndim == 4:
            mask = mask[..., None]
        arr = np.where(mask, fill, arr)
    return _done(env, base, "perturbed.occlusion", cols, arr, lo, hi,
                 f"A {k}x{k} patch filled with the {params.fill} pixel value at a random place per image.",
                 {"image_shape": list(shape), "patch_px": k})
