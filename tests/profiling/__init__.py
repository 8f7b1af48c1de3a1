"""Tests of audit.profiling; a fake clock and a model that "takes" time on it, shared with
tests/checks/test_latency.py.

The profile reads its clock through ``audit.profiling._timing._clock``; replacing it with a
:class:`FakeClock` that only :class:`ClockModel` moves makes every budget decision exact and
independent of the machine's load: tests count calls and clock ticks, never wall time.
"""

from __future__ import annotations

import numpy as np

from audit.profiling import _timing


class FakeClock:
    """A nanosecond clock that stands still until a :class:`ClockModel` call moves it."""

    def __init__(self):
        self.now = 0

    def __call__(self) -> int:
        return self.now


class ClockModel:
    """``predict`` "takes" ``seconds`` of the fake clock and records (rows, start time in ns) of each call."""

    def __init__(self, clock: FakeClock, seconds: float):
        self.clock, self.step, self.calls = clock, int(round(seconds * 1e9)), []

    def predict(self, X):
        self.calls.append((len(X), self.clock.now))
        self.clock.now += self.step
        return np.zeros(len(X))


def use_fake_clock(monkeypatch) -> FakeClock:
    """Replace the profile's clock by a :class:`FakeClock` for the test (``monkeypatch`` undoes it)."""
    c = FakeClock()
    monkeypatch.setattr(_timing, "_clock", c)
    return c
