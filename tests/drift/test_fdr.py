"""bh_qvalues: scipy's false_discovery_control, equal to the hand-written step it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from audit.drift import bh_qvalues


def _hand_written(p):
    # The Benjamini-Hochberg step audit.checks.shift used before (copied here as the reference).
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_equals_hand_written(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 300))
    p = rng.uniform(size=m) ** rng.uniform(1, 6)
    p[rng.random(m) < 0.1] = p[0]          # ties
    p[rng.random(m) < 0.05] = 1.0
    p[rng.random(m) < 0.05] = 0.0
    q = bh_qvalues(p)
    # scipy multiplies by m / i where the old code multiplied by m, then divided by i: the two
    # differ in the last bit at most, never in a decision.
    np.testing.assert_array_max_ulp(q, _hand_written(p), maxulp=2)


def test_worked_example():
    # m = 5: sorted p 0.005, 0.01, 0.03, 0.04, 0.2 -> p * 5 / rank = 0.025, 0.025, 0.05, 0.05, 0.2
    p = [0.04, 0.005, 0.2, 0.03, 0.01]
    np.testing.assert_allclose(bh_qvalues(p), [0.05, 0.025, 0.2, 0.05, 0.025], rtol=1e-15)


def test_edges():
    assert bh_qvalues([]).shape == (0,)
    assert bh_qvalues([0.3]).tolist() == [0.3]
    assert bh_qvalues([0.9, 0.95, 1.0]).max() <= 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]; found \[nan\] at position\(s\) \[1\]"):
        bh_qvalues([0.1, np.nan])
    with pytest.raises(ValueError, match=r"found \[1.5\]"):
        bh_qvalues([1.5])
    with pytest.raises(ValueError, match=r"1-D array; found shape \(2, 1\)"):
        bh_qvalues([[0.1], [0.2]])
