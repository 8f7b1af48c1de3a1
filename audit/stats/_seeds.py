"""Seeds derived from the run seed and labels: the root of every random stream of an audit."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive_seed"]


def derive_seed(seed: int, *salt: object) -> int:
    """A 32-bit seed derived from the run seed and any labels (stable across runs and machines)."""
    h = zlib.crc32("|".join(str(s) for s in salt).encode())
    return int(np.random.SeedSequence([int(seed), h]).generate_state(1)[0])
