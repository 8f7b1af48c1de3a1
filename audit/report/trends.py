"""Reports across runs: ``audit compare`` (two runs), ``audit history`` (a folder of runs) and
the side-by-side report of candidate models audited together.

Pure rendering of what :mod:`audit.compare` computed and of the results themselves, plus
reading a reports folder. Every value shown is read from the results it comes from, keyed
by the model's unique label, never by position in another model's list.

The pages are printed landscape (A4) with page numbers; long names and SHA-256 hashes wrap
inside their cells, so no column is cut off the page. Files are written atomically with the
permissions of run reports (0644 files, 0755 folders).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from audit.compare import load_results, result_key
from audit.report._format import slug
from audit.report.writer import is_temporary

__all__ = ["collect_history", "render_history_html", "write_history", "render_comparison_html",
           "write_comparison", "print_comparison", "models_table", "model_labels", "render_models_html",
           "write_models_report"]

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

# Trusted, constant CSS: passed as Markup so autoescaping does not turn its quotes into &#34;
# (an escaped `content:` string is invalid CSS, and WeasyPrint then drops the page numbers).
_CSS = Markup("""
@page{size:A4 landscape;margin:1.4cm 1.2cm 1.6cm 1.2cm;
@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt;color:#555}
@bottom-left{content:string(title);font-size:8pt;color:#555}}
h1{string-set:title content()}
body{font-family:DejaVu Sans,Arial,sans-serif;font-size:9pt;color:#222;margin:0}
table{border-collapse:collapse;width:100%;margin:.6em 0;table-layout:auto}
th,td{border:1px solid #ccc;padding:3px 5px;text-align:left;vertical-align:top;overflow-wrap:break-word}
thead{display:table-header-group}th{background:#f0f0f0}tr{break-inside:avoid}
code,.hash{font-family:DejaVu Sans Mono,monospace;font-size:7.5pt;overflow-wrap:anywhere;word-break:break-all}
.num{white-space:nowrap}.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}
.chart{break-inside:avoid;margin:.4em 0}h2{border-bottom:1px solid #999;break-after:avoid}
.meta td:first-child{width:16%}
""")

_HISTORY = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Audit history: {{ h.folder }}</title><style>{{ css }}</style></head><body>
<h1>Audit history</h1>
<p>{{ h.runs|length }} runs found in <code>{{ h.folder }}</code>, ordered by start time.</p>
<table><thead><tr><th>#</th><th>started (UTC)</th><th>policy</th><th>model</th><th>decision</th>
<th>run digest</th><th>folder</th></tr></thead><tbody>
{% for r in h.runs %}<tr><td>{{ loop.index }}</td><td class="num">{{ r.started_at }}</td><td>{{ r.policy }}</td>
<td>{{ r.model or '-' }}</td><td class="{{ 'bad' if r.decision == 'FAIL' else 'ok' }}">{{ r.headline or r.decision }}</td>
<td class="hash">{{ r.run_digest or '-' }}</td><td>{{ r.folder }}</td></tr>{% endfor %}
</tbody></table>
{% for c in charts %}<h2>{{ c.name }} <small>[{{ c.evalset }}]</small></h2>
<div class="chart">{{ c.svg }}</div>
{% endfor %}
</body></html>""")

_COMPARE = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Audit comparison</title><style>{{ css }}</style></head><body>
<h1>Audit comparison</h1>
<table class="meta"><thead><tr><th></th><th>before</th><th>after</th></tr></thead><tbody>
<tr><td>policy</td><td>{{ c.before.policy }}</td><td>{{ c.after.policy }}</td></tr>
<tr><td>model</td><td>{{ c.before.model or '-' }}</td><td>{{ c.after.model or '-' }}</td></tr>
<tr><td>started (UTC)</td><td>{{ c.before.started_at or '-' }}</td><td>{{ c.after.started_at or '-' }}</td></tr>
<tr><td>decision</td><td>{{ c.before.decision or '-' }}</td><td>{{ c.after.decision or '-' }}</td></tr>
<tr><td>run digest</td><td class="hash">{{ c.before.run_digest or '-' }}</td><td class="hash">{{ c.after.run_digest or '-' }}</td></tr>
</tbody></table>
<p><b class="{{ 'bad' if c.regressions else 'ok' }}">{{ c.regressions }} regression(s).</b></p>
{% if c.changed_files %}<h2>Inputs that changed</h2><table><thead><tr><th>input</th><th>before SHA-256</th><th>after SHA-256</th></tr></thead><tbody>
{% for k, v in c.changed_files.items() %}<tr><td>{{ k }}</td><td class="hash">{{ v.before }}</td><td class="hash">{{ v.after }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p>Policy, model and data are identical (same SHA-256).</p>{% endif %}
<h2>Checks</h2><table><thead><tr><th>check</th><th>evaluation set</th><th>before</th><th>after</th><th>change</th><th>verdicts</th><th>regression</th></tr></thead><tbody>
{% for r in c.rows %}<tr><td>{{ r.name }}</td><td>{{ r.evalset }}</td><td class="num">{{ num(r.before) }}</td><td class="num">{{ num(r.after) }}</td>
<td class="num">{{ num(r.change) }}</td><td>{{ r.before_verdict or '-' }} &rarr; {{ r.after_verdict or '-' }}</td>
<td class="{{ 'bad' if r.regression else '' }}">{{ 'REGRESSION' if r.regression else r.status }}</td></tr>{% endfor %}
</tbody></table></body></html>""")


_MODELS = _ENV.from_string("""<!doctype html><html><head><meta charset="utf-8">
<title>Candidate models: {{ policy }}</title><style>{{ css }}</style></head><body>
<h1>Candidate models side by side: {{ policy }}</h1>
<p>Policy <b>{{ policy }}</b>; every check ran on each model, on the same data and evaluation sets.
Each column holds that model's own results (value [interval] verdict).</p>
<table id="models"><thead><tr><th>model</th><th>decision</th><th>PASS</th><th>WARN</th><th>FAIL</th><th>INCONCLUSIVE</th><th>ERROR</th><th>SKIPPED</th>
<th>source</th><th>model SHA-256</th><th>run digest</th></tr></thead><tbody>
{% for m in models %}<tr><td>{{ m.name }}</td><td class="{{ 'bad' if m.decision == 'FAIL' else 'ok' }}">{{ m.headline or m.decision }}</td>
{% for k in verdicts %}<td class="num">{{ m.counts[k] }}</td>{% endfor %}<td>{{ m.source or '-' }}</td>
<td class="hash">{{ m.sha256 or '-' }}</td><td class="hash">{{ m.run_digest or '-' }}</td></tr>{% endfor %}
</tbody></table>
<h2>Checks</h2><table id="checks"><thead><tr><th>check</th><th>evaluation set</th>{% for m in models %}<th>{{ m.name }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.evalset }}</td>
{% for c in row.cells %}<td class="{{ 'bad' if c.verdict in ('FAIL', 'ERROR') else '' }}">{{ c.text }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{% for row in rows %}{% if row.chart %}<div class="chart">{{ row.chart }}</div>{% endif %}{% endfor %}
</body></html>""")

_VERDICTS = ("PASS", "WARN", "FAIL", "INCONCLUSIVE", "ERROR", "SKIPPED")


def _num(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def _model_label(res) -> str | None:
    return (res.manifest or {}).get("model_name") or None


def model_labels(results: list) -> list[str]:
    """One unique label per result: its ``manifest.model_name`` (``model N`` without one);
    a label used twice gets ``-2``, ``-3`` ... in order, as the runner labels models."""
    out: list[str] = []
    used: dict[str, int] = {}
    for i, res in enumerate(results):
        base = _model_label(res) or f"model {i + 1}"
        k = used.get(base, 0) + 1
        label = base if k == 1 else f"{base}-{k}"
        while label in out:
            k += 1
            label = f"{base}-{k}"
        used[base] = k
        out.append(label)
    return out


# -- history ------------------------------------------------------------------------------

def collect_history(folder: str | Path) -> dict:
    """Every run (sub-folder with ``results.json``) of ``folder``, ordered by start time, and
    per-check series: one per check and model (runs of several models share a folder)."""
    folder = Path(folder)
    runs = []
    for f in sorted(folder.glob("*/results.json")):
        if is_temporary(f.parent.name):  # a report still being written, or left by a killed run
            continue
        res = load_results(f)
        runs.append((res.manifest.get("started_at", ""), f.parent.name, res))
    runs.sort(key=lambda t: (t[0], t[1]))
    series: dict[tuple, dict] = {}
    for i, (_, _, res) in enumerate(runs):
        model = _model_label(res)
        for r in res.results:
            s = series.setdefault((result_key(r), model), {
                "key": result_key(r), "name": r.name, "evalset": r.evalset, "model": model,
                "x": [], "y": [], "low": [], "high": [], "threshold": {}})
            s["x"].append(float(i + 1))
            s["y"].append(r.value)
            s["low"].append(r.interval.low if r.interval else None)
            s["high"].append(r.interval.high if r.interval else None)
            s["threshold"] = {"min": r.threshold.get("min"), "max": r.threshold.get("max"),
                              "warn_min": r.threshold.get("warn_min"), "warn_max": r.threshold.get("warn_max")}
    return {"folder": str(folder),
            "runs": [{"started_at": t, "folder": name, "policy": res.policy_name,
                      "model": (res.manifest or {}).get("model_name"), "decision": res.summary.decision,
                      "headline": res.summary.headline, "run_digest": (res.manifest or {}).get("run_digest")}
                     for t, name, res in runs],
            "series": [s for s in series.values() if any(v is not None for v in s["y"])]}


def _history_charts(hist: dict) -> list[dict]:
    """One chart per check and model, over the runs of that model (numbered as in the runs table)."""
    from audit.report.charts import chart_svg

    out = []
    for s in hist["series"]:
        title = f"{s['name']} ({s['model']})" if s["model"] else s["name"]
        svg = chart_svg({"kind": "curve", "title": title, "x": s["x"], "xlabel": "run (by start time)",
                         "ylabel": "value", "threshold": s["threshold"],
                         "series": [{"name": s["model"] or s["evalset"], "y": s["y"], "low": s["low"],
                                     "high": s["high"]}]})
        out.append({"name": title, "evalset": s["evalset"], "svg": Markup(svg or "")})
    return out


def render_history_html(hist: dict) -> str:
    """Trend report: one chart per metric (and model) over runs, threshold band drawn."""
    return _HISTORY.render(h=hist, charts=_history_charts(hist), css=_CSS)


# -- compare ------------------------------------------------------------------------------

def render_comparison_html(cmp: dict) -> str:
    """Side-by-side table of two runs with changes and regressions."""
    return _COMPARE.render(c=cmp, css=_CSS, num=_num)


def _write(folder: Path, stem: str, html: str, pdf: bool) -> Path:
    if not folder.exists():
        folder.mkdir(parents=True)
        os.chmod(folder, 0o755)  # like a run report's folder, whatever the umask (an existing one is left as is)
    targets = [(folder / f"{stem}.html", html.encode())]
    if pdf:
        from audit.report.pdf import render_pdf

        targets.append((folder / f"{stem}.pdf", render_pdf(html)))
    for path, data in targets:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is an ordinary readable file
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return folder / f"{stem}.html"


def write_history(hist: dict, out: str | Path, pdf: bool = True) -> Path:
    """Write ``history.html`` (and ``history.pdf``) into ``out``."""
    return _write(Path(out), "history", render_history_html(hist), pdf)


def write_comparison(cmp: dict, out: str | Path, pdf: bool = True) -> Path:
    """Write ``compare.html`` (and ``compare.pdf``) into ``out``."""
    return _write(Path(out), "compare", render_comparison_html(cmp), pdf)


# -- candidate models side by side ------------------------------------------------------------

def models_table(results: list) -> dict:
    """Side-by-side data: per model a summary, per check one cell per model.

    Cells are keyed by the model's position and unique label (:func:`model_labels`), so each
    column holds its own model's values even when two results carry the same ``model_name``.
    """
    names = model_labels(results)
    models = []
    for n, r in zip(names, results, strict=True):
        entry = (r.manifest or {}).get("files", {}).get("model") or {}
        models.append({"name": n, "decision": r.summary.decision, "headline": r.summary.headline,
                       "counts": {k: r.summary.counts.get(k, 0) for k in _VERDICTS},
                       "source": entry.get("source"), "sha256": entry.get("sha256"),
                       "run_digest": (r.manifest or {}).get("run_digest")})
    order: dict[str, tuple] = {}
    cells: dict[str, dict[int, dict]] = {}
    for i, res in enumerate(results):
        seen: dict[str, int] = {}
        for r in res.results:
            # A check repeated with identical key (same id, set, name, params) is matched by occurrence.
            base = result_key(r)
            k = f"{base}#{seen.get(base, 0)}"
            seen[base] = seen.get(base, 0) + 1
            order.setdefault(k, (r.name, r.evalset, r.threshold))
            iv = f" [{_num(r.interval.low)}, {_num(r.interval.high)}]" if r.interval else ""
            cells.setdefault(k, {})[i] = {"verdict": r.verdict.value, "value": r.value,
                                          "low": r.interval.low if r.interval else None,
                                          "high": r.interval.high if r.interval else None,
                                          "text": f"{_num(r.value)}{iv} {r.verdict.value}"}
    rows = []
    empty = {"verdict": "", "text": "-", "value": None, "low": None, "high": None}
    for k, (name, evalset, th) in order.items():
        row = [cells[k].get(i, empty) for i in range(len(results))]
        rows.append({"key": k, "name": name, "evalset": evalset, "cells": row,
                     "chart_spec": {"kind": "intervals", "title": f"{name} [{evalset}]", "labels": names,
                                    "values": [c["value"] for c in row], "lows": [c["low"] for c in row],
                                    "highs": [c["high"] for c in row], "xlabel": "value",
                                    "threshold": {"min": th.get("min"), "max": th.get("max"),
                                                  "warn_min": th.get("warn_min"), "warn_max": th.get("warn_max")}}})
    return {"policy": results[0].policy_name, "models": models, "rows": rows}


def render_models_html(results: list, charts: bool = True) -> str:
    """The side-by-side report of candidate models (HTML)."""
    from audit.report.charts import chart_svg

    data = models_table(results)
    for row in data["rows"]:
        spec = row["chart_spec"]
        svg = chart_svg(spec) if charts and any(v is not None for v in spec["values"]) else None
        row["chart"] = Markup(svg) if svg else None
    return _MODELS.render(css=_CSS, verdicts=_VERDICTS, **data)


def write_models_report(results: list, out: str | Path, pdf: bool = True) -> Path:
    """Write ``models.html`` (and PDF) comparing candidate models into a new folder under ``out``:
    ``<policy>-models-<UTC start>`` (``~2``, ``~3`` ... when taken)."""
    html = render_models_html(results)
    stamp = results[0].manifest.get("started_at", "").replace("-", "").replace(":", "")
    folder = Path(out) / f"{slug(results[0].policy_name)}-models-{stamp}"
    i = 2
    while folder.exists():
        folder = folder.with_name(f"{folder.name.rsplit('~', 1)[0]}~{i}")
        i += 1
    Path(out).mkdir(parents=True, exist_ok=True)
    folder.mkdir()
    os.chmod(folder, 0o755)
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
