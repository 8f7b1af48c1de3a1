"""Reports across runs: ``audit compare`` (two runs) and ``audit history`` (a folder of runs).

Pure rendering of what :mod:`audit.compare` computed, plus reading a reports
folder. Written atomically, like the audit report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jinja2 import Environment, select_autoescape

from audit.compare import load_results, result_key
from audit.report._format import slug
from audit.report.writer import is_temporary

__all__ = ["collect_history", "render_history_html", "write_history", "render_comparison_html",
           "write_comparison", "print_comparison", "models_table", "write_models_report"]

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_CSS = """
body{font-family:DejaVu Sans,Arial,sans-serif;font-size:10pt;color:#222;margin:1.5em}
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#f0f0f0}tr{break-inside:avoid}.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}
.chart{break-inside:avoid;margin:.4em 0}h2{border-bottom:1px solid #999}
@page{size:A4;margin:1.5cm;@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt}}
"""

_HISTORY = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Audit history: {{ h.folder }}</title><style>{{ css }}</style></head><body>
<h1>Audit history</h1>
<p>{{ h.runs|length }} runs found in <code>{{ h.folder }}</code>, ordered by start time.</p>
<table><thead><tr><th>#</th><th>started (UTC)</th><th>policy</th><th>decision</th><th>folder</th></tr></thead><tbody>
{% for r in h.runs %}<tr><td>{{ loop.index }}</td><td>{{ r.started_at }}</td><td>{{ r.policy }}</td>
<td class="{{ 'bad' if r.decision == 'FAIL' else 'ok' }}">{{ r.decision }}</td><td>{{ r.folder }}</td></tr>{% endfor %}
</tbody></table>
{% for s in h.series %}<h2>{{ s.name }} <small>[{{ s.evalset }}]</small></h2>
<div class="chart">{{ charts[loop.index0]|safe }}</div>
{% endfor %}
</body></html>""")

_COMPARE = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Audit comparison</title><style>{{ css }}</style></head><body>
<h1>Audit comparison</h1>
<p>Before: {{ c.before.policy }} ({{ c.before.started_at }}) &mdash; after: {{ c.after.policy }} ({{ c.after.started_at }}).
<b class="{{ 'bad' if c.regressions else 'ok' }}">{{ c.regressions }} regression(s).</b></p>
{% if c.changed_files %}<h2>Inputs that changed</h2><table><thead><tr><th>input</th><th>before SHA-256</th><th>after SHA-256</th></tr></thead><tbody>
{% for k, v in c.changed_files.items() %}<tr><td>{{ k }}</td><td><code>{{ v.before }}</code></td><td><code>{{ v.after }}</code></td></tr>{% endfor %}
</tbody></table>{% else %}<p>Policy, model and data are identical (same SHA-256).</p>{% endif %}
<h2>Checks</h2><table><thead><tr><th>check</th><th>evaluation set</th><th>before</th><th>after</th><th>change</th><th>verdicts</th><th>regression</th></tr></thead><tbody>
{% for r in c.rows %}<tr><td>{{ r.name }}</td><td>{{ r.evalset }}</td><td>{{ num(r.before) }}</td><td>{{ num(r.after) }}</td>
<td>{{ num(r.change) }}</td><td>{{ r.before_verdict or '-' }} &rarr; {{ r.after_verdict or '-' }}</td>
<td class="{{ 'bad' if r.regression else '' }}">{{ 'REGRESSION' if r.regression else r.status }}</td></tr>{% endfor %}
</tbody></table></body></html>""")


_MODELS = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Candidate models: {{ policy }}</title><style>{{ css }}</style></head><body>
<h1>Candidate models side by side</h1>
<p>Policy <b>{{ policy }}</b>; every check ran on each model, on the same data and evaluation sets.</p>
<table><thead><tr><th>model</th><th>decision</th><th>PASS</th><th>WARN</th><th>FAIL</th><th>INCONCLUSIVE</th><th>ERROR</th><th>SKIPPED</th><th>source</th></tr></thead><tbody>
{% for m in models %}<tr><td>{{ m.name }}</td><td class="{{ 'bad' if m.decision == 'FAIL' else 'ok' }}">{{ m.decision }}</td>
{% for k in ['PASS','WARN','FAIL','INCONCLUSIVE','ERROR','SKIPPED'] %}<td>{{ m.counts[k] }}</td>{% endfor %}<td>{{ m.source }}</td></tr>{% endfor %}
</tbody></table>
<h2>Checks</h2><table><thead><tr><th>check</th><th>evaluation set</th>{% for m in models %}<th>{{ m.name }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.evalset }}</td>
{% for c in row.cells %}<td class="{{ 'bad' if c.verdict in ('FAIL', 'ERROR') else '' }}">{{ c.text }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{% for row in rows %}{% if row.chart %}<div class="chart">{{ row.chart|safe }}</div>{% endif %}{% endfor %}
</body></html>""")


def _num(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def collect_history(folder: str | Path) -> dict:
    """Every run (sub-folder with ``results.json``) of ``folder``, ordered by start time, and per-check series."""
    folder = Path(folder)
    runs = []
    for f in sorted(folder.glob("*/results.json")):
        if is_temporary(f.parent.name):  # a report still being written, or left by a killed run
            continue
        res = load_results(f)
        runs.append((res.manifest.get("started_at", ""), f.parent.name, res))
    runs.sort(key=lambda t: (t[0], t[1]))
    series: dict[str, dict] = {}
    for i, (_, _, res) in enumerate(runs):
        for r in res.results:
            s = series.setdefault(result_key(r), {"name": r.name, "evalset": r.evalset, "x": [], "y": [],
                                                  "low": [], "high": [], "threshold": {}})
            s["x"].append(float(i + 1))
            s["y"].append(r.value)
            s["low"].append(r.interval.low if r.interval else None)
            s["high"].append(r.interval.high if r.interval else None)
            s["threshold"] = {"min": r.threshold.get("min"), "max": r.threshold.get("max")}
    return {"folder": str(folder),
            "runs": [{"started_at": t, "folder": name, "policy": res.policy_name, "decision": res.summary.decision}
                     for t, name, res in runs],
            "series": [s for s in series.values() if any(v is not None for v in s["y"])]}


def render_history_html(hist: dict) -> str:
    """Trend report: one chart per metric over runs, threshold band drawn."""
    from audit.report.charts import chart_svg

    charts = [chart_svg({"kind": "curve", "title": s["name"], "x": s["x"], "xlabel": "run (by start time)",
                         "ylabel": "value", "threshold": s["threshold"],
                         "series": [{"name": s["evalset"], "y": s["y"], "low": s["low"], "high": s["high"]}]})
              or "" for s in hist["series"]]
    return _HISTORY.render(h=hist, charts=charts, css=_CSS)


def render_comparison_html(cmp: dict) -> str:
    """Side-by-side table of two runs with changes and regressions."""
    return _COMPARE.render(c=cmp, css=_CSS, num=_num)


def _write(folder: Path, stem: str, html: str, pdf: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    targets = [(folder / f"{stem}.html", html.encode())]
    if pdf:
        from audit.report.pdf import render_pdf

        targets.append((folder / f"{stem}.pdf", render_pdf(html)))
    for path, data in targets:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return folder / f"{stem}.html"


def write_history(hist: dict, out: str | Path, pdf: bool = True) -> Path:
    """Write ``history.html`` (and ``history.pdf``) into ``out``."""
    return _write(Path(out), "history", render_history_html(hist), pdf)


def write_comparison(cmp: dict, out: str | Path, pdf: bool = True) -> Path:
    """Write ``compare.html`` (and ``compare.pdf``) into ``out``."""
    return _write(Path(out), "compare", render_comparison_html(cmp), pdf)


def models_table(results: list) -> dict:
    """Side-by-side data: per model a summary, per check one cell per model."""
    names = [r.manifest.get("model_name") or f"model {i + 1}" for i, r in enumerate(results)]
    models = [{"name": n, "decision": r.summary.decision, "counts": r.summary.counts,
               "source": (r.manifest.get("files", {}).get("model") or {}).get("source")}
              for n, r in zip(names, results, strict=True)]
    order: dict[str, tuple] = {}
    cells: dict[str, dict] = {}
    for n, res in zip(names, results, strict=True):
        for r in res.results:
            k = result_key(r)
            order.setdefault(k, (r.name, r.evalset, r.threshold))
            iv = f" [{_num(r.interval.low)}, {_num(r.interval.high)}]" if r.interval else ""
            cells.setdefault(k, {})[n] = {"verdict": r.verdict.value, "value": r.value,
                                          "low": r.interval.low if r.interval else None,
                                          "high": r.interval.high if r.interval else None,
                                          "text": f"{_num(r.value)}{iv} {r.verdict.value}"}
    rows = []
    for k, (name, evalset, th) in order.items():
        row = [cells[k].get(n, {"verdict": "", "text": "-", "value": None, "low": None, "high": None}) for n in names]
        rows.append({"name": name, "evalset": evalset, "cells": row,
                     "chart_spec": {"kind": "intervals", "title": f"{name} [{evalset}]", "labels": names,
                                    "values": [c["value"] for c in row], "lows": [c["low"] for c in row],
                                    "highs": [c["high"] for c in row], "xlabel": "value",
                                    "threshold": {"min": th.get("min"), "max": th.get("max")}}})
    return {"policy": results[0].policy_name, "models": models, "rows": rows}


def write_models_report(results: list, out: str | Path, pdf: bool = True) -> Path:
    """Write ``models.html`` (and PDF) comparing candidate models into a new folder under ``out``."""
    from audit.report.charts import chart_svg

    data = models_table(results)
    for row in data["rows"]:
        spec = row["chart_spec"]
        row["chart"] = chart_svg(spec) if any(v is not None for v in spec["values"]) else None
    html = _MODELS.render(css=_CSS, **data)
    stamp = results[0].manifest.get("started_at", "").replace("-", "").replace(":", "")
    folder = Path(out) / f"{slug(data['policy'])}-models-{stamp}"
    i = 2
    while folder.exists():
        folder = folder.with_name(f"{folder.name.rsplit('~', 1)[0]}~{i}")
        i += 1
    return _write(folder, "models", html, pdf)


def print_comparison(cmp: dict) -> None:
    """Console table of a comparison."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{cmp['regressions']} regression(s)")
    for col in ("check", "set", "before", "after", "change", "verdicts", ""):
        t.add_column(col)
    for r in cmp["rows"]:
        t.add_row(r["name"], r["evalset"], _num(r.get("before")), _num(r.get("after")), _num(r.get("change")),
                  f"{r.get('before_verdict') or '-'} → {r.get('after_verdict') or '-'}",
                  "[red]REGRESSION[/red]" if r["regression"] else r["status"])
    c = Console()
    c.print(t)
    for k, v in cmp["changed_files"].items():
        c.print(f"{k} changed: {v['before']} → {v['after']}")
