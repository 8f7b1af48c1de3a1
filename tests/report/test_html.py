"""HTML report: self-contained, escaped, complete; a first page a reviewer can sign; readable cards."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest

from audit.compliance import DISCLAIMER, matrix, methods
from audit.report import render_html
from audit.results import AuditResult, CheckResult, GroupValue, Interval, Summary, Verdict

from .conftest import EVIL, build_result

SCHEMES = ("http:", "https:", "file:", "ftp:", "//")
DIGEST = "9f" * 32


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _text(doc: str) -> str:
    """The page's visible text, whitespace collapsed (ids may carry <wbr> break hints)."""
    body = re.sub(r"<style.*?</style>|<svg.*?</svg>", " ", doc, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body.replace("<wbr>", ""))))


def _section(doc: str, section_id: str) -> str:
    m = re.search(rf'<section id="{section_id}".*?</section>', doc, flags=re.S)
    assert m, section_id
    return m.group(0)


def _card(doc: str, index: int) -> str:
    m = re.search(rf'<article class="[^"]*" id="check-{index}">.*?</article>', doc, flags=re.S)
    assert m, index
    return m.group(0)


@pytest.fixture(scope="module")
def page():
    result = build_result()
    doc = render_html(result)
    parser = _Collector()
    parser.feed(doc)
    return result, doc, parser


def test_no_script_and_user_text_escaped(page):
    _, doc, parser = page
    assert "<script" not in doc.lower()
    assert "script" not in parser.tags
    assert "&lt;script&gt;alert(" in doc
    assert EVIL in htmllib.unescape("".join(parser.text)) or "alert('x')" in "".join(parser.text)


def test_no_url_anywhere_but_in_escaped_user_text(page):
    _, doc, parser = page
    for tag, key, value in parser.attrs:
        low = value.strip().lower()
        assert not low.startswith(SCHEMES), (tag, key, value)
        assert "url(" not in low or "url(#" in low, (tag, key, value)
        if key in ("href", "src"):
            assert low.startswith("#"), (tag, key, value)
    own = doc.replace("http://evil.example/x", "")
    for needle in ("http://", "https://", "file:"):
        assert needle not in own
    assert "@import" not in doc and "<link" not in doc and "<img" not in doc


def test_every_check_and_verdict_appears(page):
    result, doc, _ = page
    text = _text(doc)
    for r in result.results:
        assert r.id in text and r.evalset in text
    for v in Verdict:
        assert re.search(rf">{v.value}<", doc), v


def test_every_svg_has_a_title_and_description(page):
    _, doc, _ = page
    svgs = re.findall(r"<svg.*?</svg>", doc, flags=re.S)
    assert svgs
    for svg in svgs:
        assert re.search(r"<title id=\"[^\"]+\">[^<]+</title>", svg) and re.search(r"<desc id=\"[^\"]+\">[^<]+", svg)


def _signed_result(**summary_extra) -> AuditResult:
    r = build_result()
    manifest = dict(r.manifest)
    manifest.update({
        "run_digest": DIGEST, "model_name": "credit-lr", "execution": {"executor": "local", "workers": 2,
                                                                      "partitions": 4},
        "files": {"model": {"name": "credit-lr", "kind": "sklearn", "source": "/srv/models/credit-lr.skops",
                            "sha256": "cd" * 32},
                  "data": {"path": "/srv/data/holdout.parquet", "sha256": "ef" * 32, "rows": 48571},
                  "reference": {"path": "/srv/data/train.parquet", "sha256": "01" * 32, "rows": 120000},
                  "policy": {"path": "/srv/policies/credit.yaml", "sha256": "ab" * 32}},
        "policy": {"name": "credit-scoring", "description": "Sign-off of the credit model.", "sha256": "ab" * 32,
                   "owner": "Credit Analytics", "approved_by": "Model Risk Committee", "review_by": "2020-01-31",
                   "review_overdue": True, "frameworks": []},
        "inconclusive_fails": False, "libraries": {"numpy": "1.26.4", "scikit-learn": "1.9.1"},
    })
    s = r.summary

    class _Summary(Summary):  # the summary with the rule that decided (results.json of a later toolkit)
        reason: str | None = None

    summary = _Summary(counts=s.counts, decision=s.decision, exit_code=s.exit_code,
                       blocking_failures=s.blocking_failures, **summary_extra)
    return AuditResult.model_construct(**{**dict(r), "manifest": manifest, "summary": summary})


def test_first_page_is_the_decision_and_its_identity_then_the_sign_off():
    reason = "1 blocking check failed: Impact ratio (four-fifths rule) [base]"
    doc = render_html(_signed_result(reason=reason))
    order = [doc.index(f'id="{s}"') for s in ("summary", "identity", "signoff", "checks")]
    assert order == sorted(order)  # decision, identity, sign-off, then the checks
    summary = _text(_section(doc, "summary"))
    assert "FAIL" in summary and "exit code 1" in summary and reason in summary
    for verdict, n in _signed_result().summary.counts.items():
        assert f"{verdict} {n}" in summary
    assert "Impact ratio (four-fifths rule)" in summary and "review overdue" in summary
    ident = _text(_section(doc, "identity"))
    for needle in ("credit-lr", "sklearn", "credit-lr.skops", "cd" * 32, "holdout.parquet", "48,571",
                   "ef" * 32, "train.parquet", "120,000", "01" * 32, "credit-scoring", "Sign-off of the credit model.",
                   "Credit Analytics", "Model Risk Committee", "2020-01-31", "ab" * 32, "local, 2 worker(s), 4 partition(s)",
                   "0.1.0", DIGEST):
        assert needle in ident, needle
    assert "review overdue" in ident
    signoff = _text(_section(doc, "signoff"))
    assert DIGEST in signoff and "Reviewed by" in signoff and "approve with conditions" in signoff


def test_identity_tables_split_in_order_into_two_balanced_columns():
    from audit.report.identity import _height, identity_view, two_columns

    view = identity_view(_signed_result())
    left, right = view["columns"]
    assert left + right == view["sections"] and left and right  # every table once, in reading order
    heights = [_height(s) for s in view["sections"]]
    gap = abs(sum(map(_height, left)) - sum(map(_height, right)))
    # no other split point is better balanced
    assert all(gap <= abs(sum(heights) - 2 * sum(heights[:k])) for k in range(len(heights) + 1))
    doc = render_html(_signed_result())
    ident = _section(doc, "identity")
    assert ident.count('class="idcol"') == 2 and "column-count" not in ident
    one = [{"title": "t", "rows": [("a", "b")]}]
    assert two_columns(one) == [one, []] and two_columns([]) == [[], []]


def test_without_digest_or_reason_the_page_says_so_and_invents_nothing(page):
    _, doc, _ = page
    assert "Why:" not in _text(_section(doc, "summary"))
    assert "not recorded by this toolkit version" in _text(_section(doc, "signoff"))


def test_technical_details_never_print_python_words():
    doc = render_html(_signed_result())
    tech = _text(_section(doc, "technical"))
    assert "Inconclusive fails: no" in tech or "Inconclusive fails no" in tech
    assert not re.search(r"\b(True|False|None)\b", tech)
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", tech.replace("OMP_NUM_THREADS", "")), tech
    assert "numpy: 1.26.4" in tech and "scikit-learn: 1.9.1" in tech


def _readable_result() -> AuditResult:
    groups = [GroupValue(group="sex=F", n=1678, value=0.344, interval=Interval(low=0.322, high=0.367, method="wilson"),
                         extra={"partition": "sex", "included": True, "gap": 0.4645}),
              GroupValue(group="sex=M", n=2322, value=0.740, interval=Interval(low=0.722, high=0.758, method="wilson"),
                         extra={"partition": "sex", "included": True, "gap": 1.0})]
    dup = {"title": "Per-group metrics", "columns": ["group", "n", "selection rate", "ratio vs best group"],
           "rows": [["sex=F", 1678, "0.344 (0.322-0.367)", "0.464"], ["sex=M", 2322, "0.740 (0.722-0.758)", "1.000"]]}
    profile = {"title": "Latency per batch size", "columns": ["batch size", "p95 ms"], "rows": [[1, 7.4], [32, 8.1]]}
    box = {"kind": "box", "title": "Latency per call", "ylabel": "ms",
           "series": [{"name": "batch 1", "q": [6.0, 6.5, 6.9, 7.2, 8.8], "extra": {"p95": 7.4}}]}
    results = [
        CheckResult(id="fairness.demographic_parity_ratio", name="fairness.demographic_parity_ratio", family="fairness",
                    evalset="base", verdict=Verdict.FAIL, value=0.4645, interval=Interval(low=0.4324, high=0.4982),
                    n=4000, groups=groups, threshold={"min": 0.8}, params={"sensitive": ["sex"], "compare_to": "best",
                                                                           "reference_group": None},
                    details={"tables": [dup]}),
        CheckResult(id="fairness.demographic_parity_ratio", name="Impact ratio, generic table", family="fairness",
                    evalset="base", verdict=Verdict.FAIL, value=0.4645, groups=groups, threshold={"min": 0.8},
                    params={"compare_to": "best"}),
        CheckResult(id="ood.detection_auroc", name="Confidence flags far rows", family="ood", evalset="base",
                    verdict=Verdict.FAIL, value=0.0, interval=Interval(low=0.0, high=0.0), threshold={"min": 0.7}),
        CheckResult(id="data.train_test_duplicates", name="data.train_test_duplicates", family="data", evalset="base",
                    verdict=Verdict.PASS, value=0.0, interval=Interval(low=5.42e-20, high=9.59e-4, method="wilson"),
                    threshold={"max": 0.01},
                    details={"tables": [{"title": "Rows also in the reference", "columns": ["row"], "rows": []}]}),
        CheckResult(id="latency.p95_ms", name="p95 latency", family="latency", evalset="base", verdict=Verdict.PASS,
                    value=7.4188458, interval=Interval(low=7.31588, high=7.670862, method="order-statistic"),
                    threshold={"max": 50.0}, details={"tables": [profile], "charts": [box]}),
        CheckResult(id="latency.throughput_rows_per_s", name="Throughput", family="latency", evalset="base",
                    verdict=Verdict.WARN, value=48571.2, interval=Interval(low=42550.2, high=56174.0),
                    threshold={"min": 40000.0, "warn_min": 50000.0}, details={"tables": [profile], "charts": [box]}),
    ]
    counts = {v.value: sum(r.verdict == v for r in results) for v in Verdict}
    return AuditResult(policy_name="readable", manifest={"started_at": "2026-11-28T15:00:00+00:00"}, results=results,
                       summary=Summary(counts=counts, decision="FAIL", exit_code=1), evalsets={})


@pytest.fixture(scope="module")
def readable():
    result = _readable_result()
    return result, render_html(result)


def test_card_titles_are_human_names_with_the_id_secondary(readable):
    _, doc = readable
    card = _card(doc, 1)
    h3 = re.search(r"<h3>(.*?)</h3>", card, flags=re.S).group(1)
    name = methods().check("fairness.demographic_parity_ratio").name
    assert name in htmllib.unescape(h3) and 'class="cid"' in h3
    text = _text(card)
    assert methods().check("fairness.demographic_parity_ratio").measures in text
    assert methods().check("fairness.demographic_parity_ratio").how_to_read in text
    # parameters as a key/value list, None values left out, never JSON
    assert "sensitive sex" in text and "compare_to best" in text and "reference_group" not in text
    assert "{" not in text


def test_numbers_are_formatted_by_kind(readable):
    _, doc = readable
    assert "0.4645" in _text(_card(doc, 1)) and "0.432 – 0.498" in _text(_card(doc, 1))
    dup = _text(_card(doc, 4))
    assert "< 0.0001 – 0.000959" in dup and "e-" not in dup
    lat = _text(_card(doc, 5))
    assert "7.419 ms" in lat and "7.32 – 7.67 ms" in lat and "≤ 50 ms" in lat
    thr = _text(_card(doc, 6))
    assert "48,571 rows/s" in thr and "42,550 – 56,174 rows/s" in thr and "≥ 40,000 rows/s" in thr
    assert "warn < 50,000" in thr


def test_one_table_per_card_and_the_gap_column_named_for_ratios(readable):
    _, doc = readable
    first = _card(doc, 1)
    assert first.count('<table class="details') == 1  # the check's table, not the groups again
    assert "0.322 – 0.367" in _text(first)  # "0.344 (0.322-0.367)" reads as value and interval
    generic = _card(doc, 2)
    assert generic.count('<table class="details') == 1
    assert "ratio vs best group" in _text(generic) and ">gap<" not in generic
    assert ">partition<" not in generic and ">included<" not in generic


def test_empty_tables_say_none_found_and_special_values_are_explained(readable):
    _, doc = readable
    assert "none found" in _text(_card(doc, 4))
    ood = _text(_card(doc, 3))
    assert "Below 0.5" in ood and "inverted" in ood


def test_the_shared_latency_profile_is_printed_once(readable):
    _, doc = readable
    first, second = _card(doc, 5), _card(doc, 6)
    assert "Latency per batch size" in first and first.count("<svg") == 2  # strip + box
    assert "Latency per batch size" in _text(second) and '<table class="details' not in second
    assert 'href="#check-5"' in second
    # the throughput card still draws its own threshold on the box chart? no: ms is not its unit
    assert second.count("<svg") == 1


def test_a_chart_of_the_checks_own_metric_gets_its_threshold():
    r = _readable_result()
    doc = render_html(r)
    box = re.findall(r"<svg.*?</svg>", _card(doc, 5), flags=re.S)[1]
    assert "maximum 50" in box  # the p95 bound (ms) on the latency chart (ms)


def test_many_groups_and_long_names_stay_bounded():
    long = "n" * 10_000
    groups = [GroupValue(group=f"{long[:50]}-{i}", n=10 + i, value=i / 3000,
                         interval=Interval(low=i / 3000 - 0.01, high=i / 3000 + 0.01)) for i in range(3000)]
    chart = {"kind": "intervals", "title": long, "labels": [g.group for g in groups],
             "values": [g.value for g in groups]}
    r = CheckResult(id="fairness.selection_rate", name=long, family="fairness", evalset=long, verdict=Verdict.PASS,
                    value=0.5, groups=groups, message=long, reference=long, threshold={"min": 0.1},
                    params={"sensitive": [long]}, details={"charts": [chart]})
    result = AuditResult(policy_name=long, manifest={"note": long}, results=[r],
                         summary=Summary(counts={"PASS": 1}, decision="PASS", exit_code=0),
                         evalsets={long: {"kind": long, "description": long}}, policy_text=long)
    doc = render_html(result)
    assert len(doc) < 400_000
    card = _card(doc, 1)
    rows = re.findall(r"<tr[ >]", card.split("<tbody>", 2)[-1])
    assert len(rows) <= 31 and "of 3,000 groups shown" in card
    assert "more characters in results.json" in doc


def _framework_result() -> AuditResult:
    r = build_result()
    manifest = {**r.manifest, "policy": {"name": "x", "frameworks": ["eeoc-uniform-guidelines", "nyc-ll144"]}}
    return r.model_copy(update={"manifest": manifest})


def test_regulation_matrix_lists_every_clause_with_evidence_status_and_disclaimer():
    result = _framework_result()
    doc = render_html(result)
    section = _text(_section(doc, "matrix"))
    assert DISCLAIMER in section
    rows = matrix(result, ["eeoc-uniform-guidelines", "nyc-ll144"])
    for row in rows:
        assert row["clause"] in section and row["requirement"] in section
    counts = {s: sum(r["status"] == s for r in rows) for s in ("evidenced", "partially", "gap")}
    assert (f"{counts['evidenced']} evidenced, {counts['partially']} partially evidenced, {counts['gap']} gap(s)"
            in section)
    assert doc.count('class="clause status-') == len(rows)


def test_no_matrix_without_frameworks(page):
    _, doc, _ = page
    assert 'id="matrix"' not in doc


def test_methods_appendix_covers_the_checks_and_interval_methods_used():
    result = _readable_result()
    text = _text(_section(render_html(result), "methods"))
    cat = methods()
    for cid in {r.id for r in result.results}:
        m = cat.check(cid)
        assert m.name in text and m.formula in text and m.estimator in text
        for label in m.intervals:
            assert cat.intervals[label].name in text
    for label in {r.interval.method for r in result.results if r.interval is not None}:
        assert cat.intervals[label].name in text and cat.intervals[label].what in text
    for rule in cat.decision_rules:
        assert htmllib.unescape(rule) in text
    assert re.search(r"\[1\] .+", text) or "References" in text


def test_provenance_shows_which_file_set_each_threshold_and_the_removals():
    import audit
    from audit.runner import _policy_facts

    lp = audit.load_policy("policies/credit-scoring.yaml", model_override=True, data_override=True,
                           reference_override=True)
    facts = _policy_facts(lp)
    prov = facts["provenance"]
    results = [CheckResult(id=c.id, name=c.name or c.id, family=c.id.split(".")[0], evalset=c.evalset or "base",
                           verdict=Verdict.PASS, value=0.9, threshold={"min": 0.5}) for c in lp.policy.checks]
    result = AuditResult(policy_name=lp.policy.name, manifest={"policy": facts}, results=results,
                         summary=Summary(counts={"PASS": len(results)}, decision="PASS", exit_code=0))
    text = _text(_section(render_html(result), "provenance"))
    for origin in prov["checks"]:
        for key, where in origin["threshold"].items():
            if key in ("min", "max", "warn_min", "warn_max"):
                assert f"{key} {where['file']}:{where['line']}" in text
    for removed in prov["removed"]:
        assert removed["reason"] in text and removed["id"] in text
    for f in prov["files"]:
        assert f["name"] in text and f["sha256"] in text


def test_baseline_columns_only_in_regression_audits(page):
    _, doc, _ = page
    assert ">Baseline</th>" not in doc
    reg = render_html(build_result(with_baseline=True))
    assert ">Baseline</th>" in reg and ">Change</th>" in reg and ">regressed<" in reg


def test_error_skipped_and_policy_appendix(page):
    _, doc, _ = page
    text = htmllib.unescape(doc)
    assert "Traceback (most recent call last):" in text
    assert '<pre class="traceback">' in doc and "ValueError: boom &lt;b&gt;" in doc
    assert "Skipped: needs a live model (predictions-only audit)" in text
    assert '<pre class="policy">version: 1\nname: credit-scoring' in doc
    flat = _text(doc)
    assert "perturbed.noise@0.2" in flat and "scale=0.2" in flat and "features=9" in flat


def test_render_is_deterministic():
    assert render_html(build_result()) == render_html(build_result())
