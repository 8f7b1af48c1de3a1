"""Threshold decisions: point and interval, warn bounds, min_samples, inconclusive."""

import pytest

from audit.policy import Threshold
from audit.results import Interval, Measurement, Verdict
from audit.verdict import decide, threshold_text


def m(value, low=None, high=None, n=1000, inconclusive=None):
    iv = Interval(low=low, high=high) if low is not None else None
    return Measurement(value=value, interval=iv, n=n, inconclusive=inconclusive)


CASES = [
    # point decisions, inclusive bounds
    (m(0.80), dict(min=0.8), "point", Verdict.PASS),
    (m(0.79), dict(min=0.8), "point", Verdict.FAIL),
    (m(0.05), dict(max=0.05), "point", Verdict.PASS),
    (m(0.051), dict(max=0.05), "point", Verdict.FAIL),
    (m(0.82), dict(min=0.8, warn_min=0.85), "point", Verdict.WARN),
    (m(0.90), dict(min=0.8, warn_min=0.85), "point", Verdict.PASS),
    (m(0.03), dict(max=0.1, warn_max=0.02), "point", Verdict.WARN),
    # interval decisions: the whole interval must clear the bound
    (m(0.85, 0.82, 0.88), dict(min=0.8), "interval", Verdict.PASS),
    (m(0.81, 0.78, 0.84), dict(min=0.8), "interval", Verdict.INCONCLUSIVE),
    (m(0.70, 0.65, 0.75), dict(min=0.8), "interval", Verdict.FAIL),
    (m(0.04, 0.02, 0.06), dict(max=0.05), "interval", Verdict.INCONCLUSIVE),
    (m(0.86, 0.83, 0.90), dict(min=0.8, warn_min=0.85), "interval", Verdict.WARN),
    (m(0.85), dict(min=0.8), "interval", Verdict.INCONCLUSIVE),  # no interval to decide on
    # insufficient evidence
    (m(0.9, n=20), dict(min=0.8, min_samples=100), "point", Verdict.INCONCLUSIVE),
    (m(None), dict(min=0.8), "point", Verdict.INCONCLUSIVE),
    (m(0.9, inconclusive="group sex=X has 3 rows"), dict(min=0.8), "point", Verdict.INCONCLUSIVE),
]


@pytest.mark.parametrize("meas,th,decision,expected", CASES)
def test_decide(meas, th, decision, expected):
    verdict, why = decide(meas, Threshold(**th), decision)
    assert verdict == expected, why
    assert why


def test_threshold_decision_overrides_default():
    v, _ = decide(m(0.81, 0.78, 0.84), Threshold(min=0.8, decision="point"), "interval")
    assert v == Verdict.PASS


def test_inconclusive_reason_is_kept():
    _, why = decide(m(0.9, inconclusive="group sex=X has 3 rows"), Threshold(min=0.8))
    assert why == "group sex=X has 3 rows"


def test_threshold_text():
    assert threshold_text(Threshold(min=0.8, warn_min=0.85)) == "≥ 0.8 (warn < 0.85)"
    assert threshold_text(Threshold(min=0.1, max=0.9)) == "≥ 0.1 and ≤ 0.9"
