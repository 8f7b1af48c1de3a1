"""A hand-built AuditResult covering every verdict, chart kind and awkward string."""

from __future__ import annotations

import pytest

from audit.results import (
    AuditResult,
    CheckResult,
    GroupValue,
    Interval,
    Summary,
    Verdict,
)

EVIL = "<script>alert('x')</script> see http://evil.example/x & \"quotes\" $5"

CHARTS = [
    {"kind": "intervals", "title": "Selection rate by group", "labels": ["F", "M", EVIL],
     "values": [0.34, 0.74, None], "lows": [0.30, 0.70, None], "highs": [0.38, 0.78, None],
     "xlabel": "selection rate", "threshold": {"min": 0.2, "max": None}, "flags": [False, False, True]},
    {"kind": "curve", "title": "Accuracy vs noise severity", "x": [0.0, 0.1, 0.2, 0.4],
     "xlabel": "severity", "ylabel": "accuracy",
     "series": [{"name": "accuracy", "y": [0.9, 0.86, None, 0.71], "low": [0.88, 0.84, None, 0.68],
                 "high": [0.92, 0.88, None, 0.74]}, {"name": "baseline", "y": [0.9, 0.9, 0.9, 0.9],
                                                       "low": None, "high": None}],
     "threshold": {"min": 0.75, "max": None}},
    {"kind": "histogram", "title": "OOD scores", "xlabel": "score", "edges": [0, 0.25, 0.5, 0.75, 1.0],
     "series": [{"name": "in-distribution", "counts": [50, 30, 15, 5]},
                {"name": "ood", "counts": [5, 10, 30, 55]}]},
    {"kind": "heatmap", "title": "Selection rate, sex × age band", "row_labels": ["F", "M"],
     "col_labels": ["<25", "25-44", "45+"], "values": [[0.2, 0.35, None], [0.6, 0.75, 0.8]],
     "label": "selection rate"},
    {"kind": "box", "title": "Latency per batch", "ylabel": "ms",
     "series": [{"name": "batch 1", "q": [1.0, 1.2, 1.4, 1.7, 3.0], "extra": {"p95": 2.2, "p99": 2.8}},
                {"name": "batch 256", "q": [10.0, 11.0, 12.5, 13.0, 20.0], "extra": {"p95": 15.0}}]},
]

TABLE = {"title": "Confusion counts", "columns": ["group", "tn", "fp", "fn", "tp"],
         "rows": [["F", 40, 10, 5, 45], ["M", 50, 5, 4, 41], [EVIL, 1, 0, 1, 2]], "flag_rows": [2]}


def _check(i: int, id_: str, verdict: Verdict, **kw) -> CheckResult:
    base = dict(
        id=id_, name=kw.pop("name", id_.split(".", 1)[1].replace("_", " ")), family=id_.split(".")[0],
        evalset=kw.pop("evalset", "base"), verdict=verdict, duration_s=0.01 * i,
        threshold=kw.pop("threshold", {"min": 0.8, "warn_min": 0.85, "decision": "interval", "blocking": True}),
    )
    base.update(kw)
    return CheckResult(**base)


def build_result(with_baseline: bool = False) -> AuditResult:
    """One result per verdict, groups with a small one, every chart kind, an error."""
    groups = [
        GroupValue(group="F", n=400, value=0.34, interval=Interval(low=0.3, high=0.38)),
        GroupValue(group="M", n=600, value=0.74, interval=Interval(low=0.7, high=0.78),
                   extra={"base_rate": 0.7, "tpr": {"value": 0.81, "low": 0.77, "high": 0.85}}),
        GroupValue(group=EVIL, n=12, value=None, small=True, extra={"base_rate": None}),
    ]
    results = [
        _check(1, "performance.accuracy", Verdict.PASS, value=0.91, n=1000,
               interval=Interval(low=0.89, high=0.93, method="bootstrap-counts"),
               message="Accuracy 0.91 on 1000 rows.", reference="Model risk policy §4.2"),
        _check(2, "performance.roc_auc", Verdict.WARN, value=0.83, n=1000,
               interval=Interval(low=0.81, high=0.86), message="AUC in the warning zone."),
        _check(3, "fairness.demographic_parity_ratio", Verdict.FAIL, value=0.46, n=1012,
               interval=Interval(low=0.4, high=0.52), groups=groups,
               name="Impact ratio (four-fifths rule)",
               reference="EEOC Uniform Guidelines, 29 CFR 1607.4(D)",
               message="Impact ratio 0.46 is below 0.8. " + EVIL,
               details={"tables": [TABLE], "charts": CHARTS[:1] + CHARTS[3:4]}),
        _check(4, "fairness.equalized_odds_difference", Verdict.INCONCLUSIVE, value=0.08,
               interval=Interval(low=0.01, high=0.15),
               threshold={"max": 0.1, "warn_max": 0.05, "decision": "interval", "blocking": True},
               groups=groups[:2], message="Interval straddles the bound."),
        _check(5, "robustness.noise_accuracy", Verdict.PASS, value=0.86, evalset="perturbed.noise@0.2",
               interval=Interval(low=0.84, high=0.88), message="Accuracy under noise.",
               details={"charts": CHARTS[1:3]}),
        _check(6, "robustness.adversarial_accuracy", Verdict.ERROR, evalset="adversarial.fgsm@0.1",
               message="ValueError: boom",
               error={"type": "ValueError", "message": "boom " + EVIL,
                      "traceback": "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom <b>"}),
        _check(7, "latency.p99_ms", Verdict.SKIPPED, evalset="base", value=None,
               threshold={"max": 50.0, "blocking": False}, blocking=False,
               message="needs a live model (predictions-only audit)"),
        _check(8, "latency.throughput", Verdict.PASS, value=1234.5,
               threshold={"min": 1000.0, "blocking": False}, blocking=False,
               message="Rows per second.", details={"charts": CHARTS[4:5]}),
    ]
    if with_baseline:
        for r in results:
            if r.value is not None:
                r.baseline = {"baseline_value": r.value + 0.02, "change": -0.02, "regressed": r.id.startswith("fair")}
    counts = {v.value: sum(r.verdict == v for r in results) for v in Verdict}
    return AuditResult(
        policy_name="credit-scoring " + EVIL,
        manifest={
            "started_at": "2026-11-28T15:00:00+00:00", "finished_at": "2026-11-28T15:01:02+00:00",
            "toolkit_version": "0.1.0", "seed": 0, "inconclusive_fails": False,
            "policy": {"path": "policies/credit.yaml", "sha256": "ab" * 32},
            "model": {"path": "model.skops", "sha256": "cd" * 32},
            "libraries": {"numpy": "1.26.4", "weasyprint": "70.0"},
            "note": EVIL,
        },
        evalsets={
            "base": {"kind": "base", "params": {}, "seed": 0, "rows": 1012, "description": "holdout"},
            "perturbed.noise@0.2": {"kind": "perturbed.noise", "params": {"scale": 0.2}, "seed": 0,
                                    "rows": 1012, "description": "Gaussian noise " + EVIL,
                                    "report": {"features": 9}},
        },
        results=results,
        summary=Summary(counts=counts, decision="FAIL", exit_code=1,
                        blocking_failures=["fairness.demographic_parity_ratio"]),
        policy_text="version: 1\nname: credit-scoring\n# " + EVIL + "\n",
    )


@pytest.fixture
def audit_result() -> AuditResult:
    return build_result()


@pytest.fixture
def regression_result() -> AuditResult:
    return build_result(with_baseline=True)
