"""Numbers formatted by kind: the printed text reads back to the number within its rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audit.report._format import (
    fmt_count,
    fmt_interval,
    fmt_num,
    fmt_value,
    humanize_key,
    plain,
    shorten,
    threshold_text,
    unit_of,
)


def _back(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("seed", range(3))
def test_rates_read_back_to_4_significant_digits(seed):
    rng = np.random.default_rng(seed)
    for v in rng.uniform(1e-4, 1, 500):
        text = fmt_num(float(v))
        digits = len(text.replace("0.", "", 1).lstrip("0").replace(".", ""))
        assert digits <= 4, text
        # a 4-significant-digit rounding is within half a unit of the 4th digit
        assert abs(_back(text) - v) <= 0.5 * 10 ** (math.floor(math.log10(v)) - 3) * (1 + 1e-9), (v, text)


def test_large_numbers_and_counts_get_separators():
    assert fmt_num(48571) == "48,571" and fmt_count(4000) == "4,000" and fmt_count(4000.0) == "4,000"
    assert fmt_num(175070.65) == format(round(175070.65), ",")
    assert fmt_num(1234.5) == "1,234" or fmt_num(1234.5) == "1,235"
    assert threshold_text({"min": 50000.0}) == "≥ 50,000"  # never "≥ 50000" beside "48,571"


def test_tiny_values_are_said_to_be_tiny_not_printed_in_exponent():
    for v in (5.42e-20, 9.9e-5, 1e-12):
        assert fmt_num(v) == "< 0.0001"
    assert fmt_num(-3e-7) == "> -0.0001"
    assert fmt_num(0.0) == "0" and fmt_num(None) == "—" and fmt_num(float("nan")) == "—"
    assert "e-" not in fmt_interval({"low": 5.42e-20, "high": 9.59e-4})


def test_intervals_join_two_ends_with_the_same_decimals():
    text = fmt_interval({"low": 0.4324, "high": 0.4982})
    lo, hi = text.split(" – ")
    assert len(lo.split(".")[1]) == len(hi.split(".")[1])
    assert (_back(lo), _back(hi)) == (pytest.approx(0.4324, abs=5e-4), pytest.approx(0.4982, abs=5e-4))
    assert fmt_interval({"low": 42550.2, "high": 56174.0}) == "42,550 – 56,174"
    assert fmt_interval({"low": 7.3, "high": None}) .endswith("not bounded")
    assert fmt_interval(None) == "—" and fmt_interval({"low": None, "high": None}) == "—"
    assert fmt_interval({"low": 0.43, "high": 0.5}, unit="ms") == "0.430 – 0.500 ms"


def test_units_from_the_result_or_the_id():
    assert unit_of("latency.p95_ms") == "ms" and unit_of("latency.cold_start_s") == "s"
    assert unit_of("latency.throughput_rows_per_s") == "rows/s" and unit_of("latency.peak_memory_mb") == "MB"
    assert unit_of("performance.accuracy") == "" and unit_of("x.y", "widgets") == "widgets"
    assert fmt_value(7.4188458, "ms") == "7.419 ms"
    assert threshold_text({"max": 50.0}, "ms") == "≤ 50 ms"


def test_manifest_words_never_python():
    assert humanize_key("toolkit_version") == "Toolkit version"
    assert humanize_key("sha256") == "SHA-256" and humanize_key("wall_time_s") == "Wall time (s)"
    assert humanize_key("scikit-learn") == "scikit-learn" and humanize_key("OMP_NUM_THREADS") == "OMP_NUM_THREADS"
    assert plain(False) == "no" and plain(True) == "yes" and plain(None) == "—" and plain([]) == "none"
    assert plain({"inconclusive_fails": False}) == "Inconclusive fails: no"


def test_long_strings_are_shortened_and_say_so():
    text = shorten("x" * 10_000, 200)
    assert len(text) < 300 and "more characters in results.json" in text
    assert f"{10_000 - 200 + 1:,}" in text
    assert shorten("short", 200) == "short"
