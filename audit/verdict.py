"""From a measurement and a threshold to a verdict.

Bounds are inclusive: ``min: 0.8`` passes 0.8. With ``decision: point`` the
value is compared; with ``decision: interval`` the whole confidence interval
must clear a bound for PASS and lie beyond it for FAIL; an interval that
straddles a bound is INCONCLUSIVE (the evidence cannot tell).
"""

from __future__ import annotations

from audit.policy.schema import Threshold
from audit.results import Measurement, Verdict

__all__ = ["decide", "threshold_text", "fmt"]


def fmt(v: float | None) -> str:
    """A number for messages: 4 significant digits, or 'n/a'."""
    return "n/a" if v is None else f"{v:.4g}"


def threshold_text(th: Threshold | dict) -> str:
    """``≥ 0.8 (warn < 0.85)`` style description of a threshold."""
    t = th if isinstance(th, dict) else th.model_dump()
    parts = []
    if t.get("min") is not None:
        parts.append(f"≥ {fmt(t['min'])}")
    if t.get("max") is not None:
        parts.append(f"≤ {fmt(t['max'])}")
    warn = []
    if t.get("warn_min") is not None:
        warn.append(f"< {fmt(t['warn_min'])}")
    if t.get("warn_max") is not None:
        warn.append(f"> {fmt(t['warn_max'])}")
    text = " and ".join(parts) or "no hard bound"
    if warn:
        text += f" (warn {' or '.join(warn)})"
    return text


def _outside(lo: float, hi: float, low_bound, high_bound) -> tuple[bool, bool]:
    """(certainly outside, possibly outside) the acceptable range for the span [lo, hi]."""
    certain = (low_bound is not None and hi < low_bound) or (high_bound is not None and lo > high_bound)
    possible = (low_bound is not None and lo < low_bound) or (high_bound is not None and hi > high_bound)
    return certain, possible


def decide(m: Measurement, th: Threshold, default_decision: str = "point") -> tuple[Verdict, str]:
    """Verdict and a one-line reason for measurement ``m`` against threshold ``th``."""
    if m.inconclusive:
        return Verdict.INCONCLUSIVE, m.inconclusive
    if m.value is None:
        return Verdict.INCONCLUSIVE, "the value is undefined on this data"
    if th.min_samples is not None and (m.n is None or m.n < th.min_samples):
        return Verdict.INCONCLUSIVE, f"{m.n or 0} rows, fewer than min_samples={th.min_samples}"
    decision = th.decision or default_decision
    if decision == "interval":
        iv = m.interval
        if iv is None or iv.low is None or iv.high is None:
            return Verdict.INCONCLUSIVE, "interval decision asked, but the value has no interval"
        lo, hi, shown = iv.low, iv.high, f"interval [{fmt(iv.low)}, {fmt(iv.high)}]"
    else:
        lo = hi = m.value
        shown = f"value {fmt(m.value)}"
    bound = threshold_text(th)
    fail_certain, fail_possible = _outside(lo, hi, th.min, th.max)
    if fail_certain:
        return Verdict.FAIL, f"{shown} breaks the bound {bound}"
    if fail_possible:
        return Verdict.INCONCLUSIVE, f"{shown} straddles the bound {bound}"
    warn_certain, warn_possible = _outside(lo, hi, th.warn_min, th.warn_max)
    if warn_certain or warn_possible:
        return Verdict.WARN, f"{shown} is within {bound} but in the warning zone"
    return Verdict.PASS, f"{shown} meets {bound}"
