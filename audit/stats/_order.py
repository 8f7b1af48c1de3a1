"""Products summed in a fixed order, whatever the BLAS thread count."""

from __future__ import annotations

import numpy as np

__all__ = ["matmul"]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for ``a`` of shape (..., k) and ``b`` of shape (k,) or (k, m), in a fixed order.

    BLAS splits a product across its threads, and the split changes the rounding: the same merged
    summaries gave intervals that differed in the last bit between executors, whose check threads
    run under different thread limits. numpy's einsum loop (``optimize=False``) does not call BLAS,
    so the result depends on the operands only. The products here are small (replicates x cells).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    spec = "...k,k->..." if b.ndim == 1 else "...k,km->...m"
    return np.einsum(spec, a, b, optimize=False)
