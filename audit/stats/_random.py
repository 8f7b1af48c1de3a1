"""Random numbers keyed on (seed, stream, global row, draw): the same for any partitioning.

numpy's generators are sequential: the draws a row gets depend on how many rows
came before it *in the same call*, so splitting the table differently changes
every perturbation. A counter-based hash does not: row ``i``'s ``j``-th draw is
``splitmix64(key(seed, stream) + i * W + j)``, whichever partition or worker
computes it. numpy has counter-based bit generators (Philox) but no vectorised
way to ask one for "the draws of rows 1,000,000 to 1,250,000", which is the
small piece written here.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from audit.stats._seeds import derive_seed

__all__ = ["row_uniform", "row_normal", "row_keys"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_WIDTH = np.uint64(1 << 16)  # draws per row per stream


def _mix(z: np.ndarray) -> np.ndarray:
    # SplitMix64's finaliser: a bijection of uint64 with full avalanche (uint64 arithmetic wraps).
    # In place, with one scratch array: a perturbation draws one key per row and feature (15M
    # keys for 1M rows of the standard workload), and each temporary is a pass over memory.
    t = np.empty_like(z)
    for shift, mult in ((30, _M1), (27, _M2)):
        np.right_shift(z, np.uint64(shift), out=t)
        z ^= t
        z *= mult
    np.right_shift(z, np.uint64(31), out=t)
    z ^= t
    return z


def row_keys(seed: int, stream: str, rows: np.ndarray, draw: int = 0) -> np.ndarray:
    """A uniformly distributed uint64 per row for the named stream."""
    base = (derive_seed(seed, "rows", stream) * int(_GAMMA)) % (1 << 64)
    z = np.array(rows, dtype=np.uint64)  # a copy, mixed in place
    with np.errstate(over="ignore"):
        z *= _WIDTH
        z += np.uint64((base + draw) % (1 << 64))
        return _mix(z)


def row_uniform(seed: int, stream: str, rows: np.ndarray, draws: int = 1) -> np.ndarray:
    """Uniforms in (0, 1), shape ``(len(rows), draws)``: draw ``j`` of row ``i`` depends only on (seed, stream, i, j)."""
    out = np.empty((len(rows), draws))
    for j in range(draws):
        # 52 random bits: (k + 0.5) / 2**52 is exact in float64, so the value is never 0 or 1
        # (with 53 bits the largest k rounds to 1.0 and row_normal would return inf).
        k = row_keys(seed, stream, rows, j)
        k >>= np.uint64(12)
        col = k.astype(np.float64)
        col += 0.5
        col *= 1.0 / (1 << 52)
        out[:, j] = col
    return out


def row_normal(seed: int, stream: str, rows: np.ndarray, draws: int = 1) -> np.ndarray:
    """Standard normal draws by inverting the normal CDF of :func:`row_uniform`."""
    return ndtri(row_uniform(seed, stream, rows, draws))
