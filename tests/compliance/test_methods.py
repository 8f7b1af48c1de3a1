"""The methods catalogue covers every registered check and every interval label the code writes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from audit.checks import all_checks
from audit.compliance import load_methods, methods
from tests.compliance._scan import interval_labels

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "audit"


def test_every_registered_check_has_a_method_entry_and_no_entry_is_stale():
    registered = set(all_checks())
    described = set(methods().checks)
    missing = sorted(registered - described)
    assert not missing, (
        f"registered check(s) without an entry in audit/compliance/methods.yaml: {missing}; "
        "describe each (name, measures, formula, estimator, intervals, how_to_read, ...)"
    )
    stale = sorted(described - registered)
    assert not stale, f"methods.yaml describes check(s) no longer registered: {stale}"


def test_scanner_finds_the_labels_written_today():
    # Guards the guard: a scanner that finds nothing would make the next test pass vacuously.
    found = interval_labels(PACKAGE)
    assert {"wilson", "bootstrap-counts", "order-statistic", "paired-bootstrap-counts"} <= set(
        found
    )
    assert any("audit/checks/" in place for place in found["wilson"])


def test_every_interval_label_in_the_source_is_described_and_no_description_is_stale():
    found = interval_labels(PACKAGE)
    described = set(methods().intervals)
    undocumented = {k: v for k, v in found.items() if k not in described}
    assert not undocumented, (
        "interval method label(s) written by the code but not described under "
        f"'intervals' in methods.yaml (label: where): {undocumented}"
    )
    stale = sorted(described - set(found))
    assert not stale, f"methods.yaml describes interval label(s) the code no longer writes: {stale}"


def test_scanner_follows_helpers_names_and_conditionals(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "results.py").write_text(
        textwrap.dedent("""
        class Interval:
            method: str = "default-label"
    """)
    )
    (pkg / "checks.py").write_text(
        textwrap.dedent("""
        def _measure(ctx, label, method, extra=None):
            return Interval(low=0, high=1, method=method)

        def _outer(ctx, how):
            return _measure(ctx, "x", how)

        def _kind(metric):
            return "from-return-a" if metric == "never-a-label" else "from-return-b"

        def a(ctx, paired):
            m = Interval(method="direct-a" if paired else "direct-b")
            lo, hi, method = 0, 1, "tuple-assigned"
            i = Interval(low=lo, high=hi, method=method)
            j = Interval(method=_kind(ctx))
            _measure(ctx, "y", "positional")
            _measure(ctx, "z", method="keyword")
            _outer(ctx, "two-levels-down")
            ctx.rank(method="first")  # not an Interval: ignored
    """)
    )
    assert set(interval_labels(pkg)) == {
        "default-label",
        "direct-a",
        "direct-b",
        "tuple-assigned",
        "from-return-a",
        "from-return-b",
        "positional",
        "keyword",
        "two-levels-down",
    }


def test_every_check_entry_is_complete_and_cites_only_known_references():
    cat = methods()
    for cid, c in cat.checks.items():
        for field in ("name", "measures", "formula", "estimator", "decision", "how_to_read"):
            assert getattr(c, field).strip(), f"{cid}: empty {field}"
        assert c.limitations, f"{cid}: no limitation recorded"
        assert c.family == cid.split(".")[0]
    used = {k for c in cat.checks.values() for k in c.citations}
    used |= {k for i in cat.intervals.values() for k in i.citations}
    orphans = sorted(set(cat.citations) - used)
    assert not orphans, f"citations nobody cites (remove or cite them): {orphans}"


def test_human_names_are_unique():
    names = [c.name for c in methods().checks.values()]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_the_brief_s_key_references_are_cited_where_they_belong():
    cat = methods()

    def cites(check_id, key):
        return key in cat.check(check_id).citations

    assert cites("fairness.equalized_odds_difference", "hardt2016")
    assert cites("fairness.demographic_parity_ratio", "cfr1607_4d")
    assert cites("performance.expected_calibration_error", "naeini2015")
    assert cites("shift.feature_drift", "bh1995")
    assert cites("performance.roc_auc", "hanley_mcneil1982")
    assert cites("shift.prediction_drift", "yurdakul2018")
    assert cites("ood.detection_auroc", "liu2008")
    for key in (
        "madry2018",
        "goodfellow2015",
        "chen2020hsj",
        "croce_hein2020",
        "papernot2016",
        "kantchelian2016",
        "zhang2020trees",
    ):
        assert cites("adversarial.robust_accuracy", key), key
    assert "wilson1927" in cat.interval("wilson").citations
    assert {"efron1979", "efron_tibshirani1993"} <= set(cat.interval("bootstrap-counts").citations)


def test_lookup_errors_name_the_id_and_a_suggestion():
    with pytest.raises(
        KeyError,
        match=r"fairness\.demographic_parity_ration.*did you mean 'fairness\."
        r"demographic_parity_ratio'",
    ):
        methods().check("fairness.demographic_parity_ration")
    with pytest.raises(KeyError, match="'clopper-pearson' is not described"):
        methods().interval("clopper-pearson")


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "methods.yaml"
    p.write_text(textwrap.dedent(text))
    return p


_MINIMAL = """
version: 1
decision_rules: ["rule"]
intervals:
  wilson: {name: W, what: w, exact_when: e, approximation: a, citations: [w27]}
families:
  data:
    title: Data
    intro: i
    defaults: {decision: d}
checks:
  data.x:
    name: X
    measures: m
    formula: f
    estimator: e
    intervals: [%s]
    how_to_read: h
    citations: [%s]
citations:
  w27: "Wilson 1927"
"""


def test_a_valid_minimal_file_loads_with_family_defaults_applied(tmp_path):
    cat = load_methods(_write(tmp_path, _MINIMAL % ("wilson", "w27")))
    assert cat.check("data.x").decision == "d"
    assert cat.check("data.x").group_value is None


@pytest.mark.parametrize(
    "intervals, cites, message",
    [
        (
            "clopper",
            "w27",
            r"checks\.data\.x\.intervals: interval label 'clopper' is not described",
        ),
        ("wilson", "nobody", r"checks\.data\.x\.citations: unknown citation key 'nobody'"),
    ],
)
def test_bad_references_are_named(tmp_path, intervals, cites, message):
    with pytest.raises(ValueError, match=message):
        load_methods(_write(tmp_path, _MINIMAL % (intervals, cites)))


def test_unknown_keys_are_named_with_their_path(tmp_path):
    text = (_MINIMAL % ("wilson", "w27")).replace(
        "    how_to_read: h", "    how_to_read: h\n    howto: typo"
    )
    with pytest.raises(
        ValueError,
        match=r"methods\.yaml: 1 problem\(s\)\n  - checks\.data\.x\.howto: "
        r"Extra inputs are not permitted \(found 'typo'\)",
    ):
        load_methods(_write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere\.yaml: cannot read the file"):
        load_methods(tmp_path / "nowhere.yaml")
