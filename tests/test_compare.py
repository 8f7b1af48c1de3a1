"""Regression audits, run comparison and history."""

import pytest

from audit.compare import apply_baseline, compare_runs, load_results
from audit.report.trends import collect_history, render_history_html, write_comparison
from audit.results import AuditResult, CheckResult, Interval, Verdict
from audit.runner import summarise


def _result(value, verdict=Verdict.PASS, max_regression=None, cid="performance.accuracy", th=None):
    threshold = th or {"min": 0.7}
    if max_regression:
        threshold = {**threshold, "max_regression": max_regression}
    return CheckResult(id=cid, name=cid, family=cid.split(".")[0], evalset="base", verdict=verdict,
                       value=value, interval=Interval(low=value - 0.01, high=value + 0.01), n=1000,
                       threshold=threshold)


def _run(results, started="2026-11-01T00:00:00Z", sha="a" * 64):
    return AuditResult(policy_name="p", manifest={"started_at": started,
                                                  "files": {"model": {"sha256": sha}, "data": {"sha256": "d" * 64}}},
                       results=results, summary=summarise(results))


def test_regression_beyond_max_regression_fails():
    base = _run([_result(0.90)])
    cur = [_result(0.86, max_regression={"absolute": 0.02})]
    out = apply_baseline(cur, base)
    assert out[0].verdict == Verdict.FAIL  # 0.86 still clears min 0.7, but fell 0.04 > 0.02
    assert out[0].baseline["regressed"] and out[0].baseline["change"] == pytest.approx(-0.04)
    assert "regressed from 0.9 to 0.86" in out[0].message


def test_regression_within_max_regression_passes():
    out = apply_baseline([_result(0.89, max_regression={"absolute": 0.02})], _run([_result(0.90)]))
    assert out[0].verdict == Verdict.PASS and not out[0].baseline["regressed"]


def test_relative_regression_and_direction_for_lower_is_better():
    # ECE: lower is better (registered direction); a relative allowance of 10 %.
    th = {"max": 0.1}
    base = _run([_result(0.050, cid="performance.expected_calibration_error", th=th)])
    worse = _result(0.056, cid="performance.expected_calibration_error", th=th, max_regression={"relative": 0.1})
    better = _result(0.030, cid="performance.expected_calibration_error", th=th, max_regression={"relative": 0.1})
    assert apply_baseline([worse], base)[0].verdict == Verdict.FAIL
    assert apply_baseline([better], base)[0].verdict == Verdict.PASS


def test_compare_run_to_itself_shows_no_change():
    run = _run([_result(0.9), _result(0.8, cid="performance.roc_auc")])
    cmp = compare_runs(run, run)
    assert cmp["regressions"] == 0 and cmp["changed_files"] == {}
    assert all(r["change"] == 0 for r in cmp["rows"])


def test_compare_flags_regression_and_changed_model(tmp_path):
    a = _run([_result(0.9)])
    b = _run([_result(0.6, verdict=Verdict.FAIL)], sha="b" * 64)
    cmp = compare_runs(a, b)
    assert cmp["regressions"] == 1 and "model" in cmp["changed_files"]
    html = write_comparison(cmp, tmp_path, pdf=False).read_text()
    assert "REGRESSION" in html and "b" * 64 in html


def test_compare_cli_exit_codes(tmp_path):
    from audit.cli import main

    for name, run in (("a", _run([_result(0.9)])), ("b", _run([_result(0.6, verdict=Verdict.FAIL)]))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(run.model_dump_json())
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "nope")]) == 2


def test_history_orders_runs_and_draws_every_metric(tmp_path):
    # Five runs written in shuffled folder order; history orders them by start time.
    values = [0.91, 0.90, 0.88, 0.87, 0.85]
    for i, day in enumerate([3, 1, 5, 2, 4]):
        run = _run([_result(values[day - 1]), _result(0.8 - 0.01 * day, cid="performance.roc_auc")],
                   started=f"2026-11-0{day}T00:00:00Z")
        (tmp_path / f"run-{i}").mkdir()
        (tmp_path / f"run-{i}" / "results.json").write_text(run.model_dump_json())
    hist = collect_history(tmp_path)
    assert [r["started_at"][:10] for r in hist["runs"]] == [f"2026-11-0{d}" for d in range(1, 6)]
    by_name = {s["name"]: s for s in hist["series"]}
    assert set(by_name) == {"performance.accuracy", "performance.roc_auc"}
    assert by_name["performance.accuracy"]["y"] == values
    html = render_history_html(hist)
    assert html.count("<svg") == 2


def test_load_results_rejects_other_json(tmp_path):
    from audit.errors import InputError

    (tmp_path / "results.json").write_text('{"hello": 1}')
    with pytest.raises(InputError, match="not a results.json"):
        load_results(tmp_path)
