"""The results.json contract: JSON Schema generated from the models, shipped, documented, obeyed.

- the shipped ``audit/schemas/results.schema.json`` equals the schema generated from
  ``audit/results.py`` (regenerate: ``audit schema --results > audit/schemas/results.schema.json``);
- docs/results-schema.md lists every field of every model with the type the schema gives,
  and nothing else; it documents every manifest key and every group ``extra`` key a real run writes;
- the demo's results.json validates against the schema (jsonschema), and its group ``n`` are the
  rows behind each value, recomputed with pandas from the demo's data and model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.results import AuditResult, GroupValue, results_json_schema
from tests._demo_result import demo_results_json, demo_results_path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results-schema.md"
SHIPPED = ROOT / "audit" / "schemas" / "results.schema.json"


def render_type(p: dict) -> str:
    """How docs/results-schema.md writes a JSON Schema type (independent of pydantic's names)."""
    if "anyOf" in p:
        opts = [o for o in p["anyOf"] if o != {"type": "null"}]
        inner = " or ".join(render_type(o) for o in opts)
        return f"{inner} or null" if len(opts) < len(p["anyOf"]) else inner
    if "$ref" in p:
        return f"`{p['$ref'].rsplit('/', 1)[-1]}`"
    if "enum" in p:
        return "one of " + ", ".join(f"`{v}`" for v in p["enum"])
    t = p["type"]
    if t == "array":
        return f"array of {render_type(p['items'])}"
    if t == "object":
        ap = p.get("additionalProperties")
        if isinstance(ap, dict) and ap:
            inner = ", ".join(render_type(o) for o in ap["anyOf"]) if "anyOf" in ap else render_type(ap)
            return f"object of {inner}"
        return "object"
    return {"string": "string", "integer": "int", "number": "number", "boolean": "bool", "null": "null"}[t]


def doc_table(section: str) -> dict[str, str]:
    """field -> type of the first table under ``## `section` `` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"^## `{re.escape(section)}`.*?\n(\|.*?)(?:\n\n|\Z)", text, re.S | re.M)
    assert m, f"docs/results-schema.md has no table under ## `{section}`"
    rows = [line.split("|")[1:-1] for line in m.group(1).splitlines()[2:]]
    out = {}
    for cells in rows:
        for name in re.findall(r"`([^`]+)`", cells[0]):
            out[name] = cells[1].strip()
    return out


def test_shipped_schema_is_the_generated_one():
    assert json.loads(SHIPPED.read_text()) == results_json_schema(), (
        "regenerate: audit schema --results > audit/schemas/results.schema.json")


def test_cli_prints_the_schema(capsys):
    from audit.cli import main

    assert main(["schema", "--results"]) == 0
    assert json.loads(capsys.readouterr().out) == results_json_schema()


@pytest.mark.parametrize("model", ["AuditResult", "CheckResult", "Interval", "GroupValue", "ValueInterval",
                                   "Summary"])
def test_doc_tables_match_the_schema(model):
    schema = results_json_schema()
    props = (schema if model == "AuditResult" else schema["$defs"][model])["properties"]
    want = {k: render_type(p) for k, p in props.items()}
    got = doc_table(model)
    expected = "\n".join(f"| `{k}` | {t} |" for k, t in want.items())
    assert got == want, f"docs/results-schema.md ## `{model}` should list exactly:\n{expected}"


def test_doc_lists_every_decision_and_verdict():
    schema = results_json_schema()
    text = DOC.read_text(encoding="utf-8")
    for v in schema["$defs"]["Verdict"]["enum"]:
        assert f"| `{v}` |" in text
    for d in schema["$defs"]["Summary"]["properties"]["decision"]["enum"]:
        assert f"**`{d}`**" in text  # each decision rule is spelled out


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    cls = jsonschema.validators.validator_for(results_json_schema())
    cls.check_schema(results_json_schema())
    return cls(results_json_schema())


def test_demo_results_validate_and_manifest_and_extras_are_documented():
    doc = demo_results_json()
    _validator().validate(doc)
    AuditResult.model_validate(doc)
    documented = set(doc_table_any("Manifest"))
    assert set(doc["manifest"]) == documented
    extras = {k for r in doc["results"] for g in r["groups"] for k in g["extra"]}
    extra_doc = set(doc_table_any("`GroupValue`", table=2))
    assert extras <= extra_doc, extras - extra_doc


def doc_table_any(heading: str, table: int = 1) -> list[str]:
    """Backticked names in the first column of the ``table``-th table under ``## heading``."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    tables = re.findall(r"((?:^\|.*\n)+)", part + "\n", re.M)
    names = []
    for line in tables[table - 1].splitlines()[2:]:
        names += re.findall(r"`([^`]+)`", line.split("|")[1])
    return names


def test_invalid_documents_are_rejected():
    v = _validator()
    doc = demo_results_json()
    doc["summary"]["decision"] = "PASS WITH WARNINGS (2)"  # not a machine value
    assert not v.is_valid(doc)
    doc = demo_results_json()
    doc["results"][0]["groups"] = [{"group": "g", "n": 3, "extra": {"tpr": {"value": 1, "lo": 0}}}]
    assert not v.is_valid(doc)
    with pytest.raises(ValueError):
        GroupValue(group="g", n=3, extra={"x": [1, 2]})  # lists are not an extra


def test_group_n_is_the_rows_behind_the_value():
    import skops.io as sio

    doc = demo_results_json()
    work = demo_results_path().parents[2] / "work"
    holdout = pd.read_parquet(work / "holdout.parquet")
    model = sio.load(work / "model.skops", trusted=sio.get_untrusted_types(file=work / "model.skops") or None)
    from audit.data.demo import FEATURES

    yhat = model.classes_[model.predict_proba(holdout[FEATURES]).argmax(1)]
    y = holdout["repaid"].to_numpy()
    for r in doc["results"]:
        for g in r["groups"]:
            assert g["n"] >= 0 and (g["n"] > 0 or g["value"] is None), (r["id"], g)
    eo = next(r for r in doc["results"] if r["id"] == "fairness.equalized_odds_difference")
    for g in eo["groups"]:
        col, val = g["group"].split("=")
        mask = (holdout[col] == val).to_numpy()
        pos, neg = int((y[mask] == 1).sum()), int((y[mask] == 0).sum())
        assert g["n"] == pos  # the group's value is its TPR: it rests on the positives
        assert g["value"] == pytest.approx(float((yhat[mask & (y == 1)] == 1).mean()), abs=1e-12)
        assert g["extra"]["rows"] == int(mask.sum())
        assert g["extra"]["min_support"] == min(pos, neg)
        assert g["extra"]["min_support_of"] == ("true positive rate" if pos <= neg else "false positive rate")
    drop = next(r for r in doc["results"] if r["id"] == "robustness.metric_drop")
    for g in drop["groups"]:  # each severity of the curve rests on that set's rows
        assert g["n"] == doc["evalsets"][g["group"]]["rows"] > 0
    dpr = next(r for r in doc["results"] if r["id"] == "fairness.demographic_parity_ratio")
    for g in dpr["groups"]:  # a selection rate rests on every row of the group
        col, val = g["group"].split("=")
        assert g["n"] == g["extra"]["rows"] == int((holdout[col] == val).sum())
        assert g["value"] == pytest.approx(float(np.mean(yhat[(holdout[col] == val).to_numpy()] == 1)), abs=1e-12)
