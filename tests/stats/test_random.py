"""Unit tests of audit.stats._random: per-row random numbers that ignore how the table is split."""

import numpy as np
import pytest
from scipy import stats

from audit.stats._random import row_normal, row_uniform

N = 200_000


def test_same_values_for_any_chunking():
    whole = row_uniform(11, "noise:x", np.arange(5000), 3)[1000:2000]
    # Arbitrary uneven chunks of rows 1000..1999, computed separately and concatenated.
    cuts = [1000, 1001, 1013, 1500, 1777, 1998, 2000]
    chunks = [row_uniform(11, "noise:x", np.arange(a, b), 3) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert np.array_equal(np.concatenate(chunks), whole)
    # Row order within a call does not matter either: values follow the row, not the position.
    rows = np.random.default_rng(0).permutation(np.arange(1000, 2000))
    shuffled = row_uniform(11, "noise:x", rows, 3)
    assert np.array_equal(shuffled[np.argsort(rows)], whole)
    # Asking for fewer draws gives the same first draws.
    assert np.array_equal(row_uniform(11, "noise:x", np.arange(1000, 2000), 1), whole[:, :1])


def test_shape_and_open_interval():
    u = row_uniform(3, "s", np.arange(N), 2)
    assert u.shape == (N, 2) and u.dtype == np.float64
    assert (u > 0).all() and (u < 1).all()
    # Far-away rows (beyond 2**48, where row * 2**16 wraps) are still in (0, 1).
    far = row_uniform(3, "s", np.array([2**48 - 1, 2**48, 2**62], dtype=np.uint64))
    assert ((far > 0) & (far < 1)).all()


@pytest.mark.parametrize("other", [(12, "noise:x"), (11, "noise:y")])
def test_different_seed_or_stream_gives_different_values(other):
    rows = np.arange(10_000)
    a = row_uniform(11, "noise:x", rows)[:, 0]
    b = row_uniform(*other, rows)[:, 0]
    assert (a != b).mean() > 0.999
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05  # not a shifted copy either


def test_uniform_distribution():
    u = row_uniform(5, "dist", np.arange(N), 2)
    for j in range(2):
        assert stats.kstest(u[:, j], "uniform").pvalue > 1e-3
    # Two draws of one row, and neighbouring rows, are uncorrelated.
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.01
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.01
    # A contiguous block of rows is not a special case: the same test on rows 10**9 onwards.
    far = row_uniform(5, "dist", np.arange(10**9, 10**9 + N))[:, 0]
    assert stats.kstest(far, "uniform").pvalue > 1e-3


def test_normal_distribution():
    z = row_normal(5, "dist", np.arange(N), 2)
    assert np.isfinite(z).all()
    for j in range(2):
        assert stats.kstest(z[:, j], "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.01
    # The normal draws are the inverse normal CDF of the uniform draws of the same rows.
    u = row_uniform(5, "dist", np.arange(1000), 2)
    np.testing.assert_allclose(stats.norm.cdf(z[:1000]), u, rtol=0, atol=1e-12)


# -- regression: a uniform draw of exactly 1.0 ------------------------------------------------

def _key_preimage(seed, stream):
    """(row, draw) whose 64-bit key is all ones, by inverting SplitMix64's finaliser."""
    from audit.evalsets._base import derive_seed
    from audit.stats._random import _GAMMA, _M1, _M2

    mask = (1 << 64) - 1

    def unshift(z, s):  # inverse of z ^ (z >> s)
        x = z
        for _ in range(64 // s + 1):
            x = z ^ (x >> s)
        return x & mask

    z = unshift(mask, 31)
    z = unshift(z * pow(int(_M2), -1, 1 << 64) & mask, 27)
    z = unshift(z * pow(int(_M1), -1, 1 << 64) & mask, 30)
    base = (derive_seed(seed, "rows", stream) * int(_GAMMA)) % (1 << 64)
    draw = (z - base) % (1 << 16)
    return ((z - base - draw) % (1 << 64)) >> 16, draw


def test_uniform_is_below_one_for_the_largest_key():
    from audit.stats._random import row_keys

    # Seed 1330 puts that key on draw 0 of its row (found by trying seeds), so one draw suffices.
    row, draw = _key_preimage(1330, "x")
    assert draw == 0
    assert int(row_keys(1330, "x", np.array([row]))[0]) == 2**64 - 1  # the preimage is right
    assert row_uniform(1330, "x", np.array([row]))[0, 0] < 1.0
    assert np.isfinite(row_normal(1330, "x", np.array([row]))[0, 0])
