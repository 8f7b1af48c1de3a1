"""After the report folders are written: hand the run to CI and tracking systems.

The command line calls :func:`publish` once per ``audit run`` / ``audit demo``:

- ``--summary-md PATH`` writes the Markdown summary (:func:`audit.report.markdown.summary_markdown`)
  to ``PATH``; when ``$GITHUB_STEP_SUMMARY`` is set (GitHub Actions) it is appended there too;
- ``--mlflow`` (or ``--mlflow-experiment NAME``) logs each model's evidence as an MLflow run,
  several models under a parent run (:mod:`audit.integrations.mlflow`);
- ``--format json`` prints one JSON object on stdout (:func:`run_summary`) instead of tables.

A failure to log to MLflow happens after the reports exist: it is reported (on stderr and in
the JSON object) and gives exit code 2, so a CI job notices that its evidence is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from audit.results import AuditResult

# Imported by the command line's parser: heavy modules are imported inside the functions,
# so `audit --help` stays fast.

__all__ = ["add_output_options", "preflight", "run_summary", "publish", "print_json"]


def add_output_options(sp: argparse.ArgumentParser) -> None:
    """Add ``--format``, ``--summary-md``, ``--mlflow`` and ``--mlflow-experiment`` to a sub-command."""
    out = sp.add_argument_group("output for CI and tracking")
    out.add_argument("--format", choices=["text", "json"], default="text",
                     help="json: print one JSON object (decision, exit code, counts, report folders) "
                     "on stdout instead of tables")
    out.add_argument("--summary-md", metavar="PATH", default=None,
                     help="write a Markdown summary (decision, counts, blocking failures) to PATH; "
                     "it is also appended to $GITHUB_STEP_SUMMARY when that is set")
    out.add_argument("--mlflow", action="store_true",
                     help="log each audited model as an MLflow run (metrics, verdict tags, input hashes, "
                     "the report folder); server and experiment from MLFLOW_TRACKING_URI and "
                     "MLFLOW_EXPERIMENT_NAME (needs the mlflow extra)")
    out.add_argument("--mlflow-experiment", metavar="NAME", default=None,
                     help="MLflow experiment to log into (implies --mlflow; created when missing)")


def preflight(args: argparse.Namespace) -> None:
    """Fail before the audit, not after it, when an output option cannot work.

    Raises
    ------
    MissingExtraError
        ``--mlflow`` without the mlflow extra installed.
    """
    if getattr(args, "mlflow", False) or getattr(args, "mlflow_experiment", None):
        from audit.extras import import_extra

        import_extra("mlflow", "mlflow", "--mlflow (logging audits to MLflow)")


def run_summary(results: Sequence[AuditResult], folders: Sequence[Path], *, exit_code: int,
                side_by_side: Path | None = None) -> dict:
    """The JSON object ``--format json`` prints for a run.

    Keys: ``decision`` (the worst over the models), ``exit_code`` (what the process returns),
    ``audit_exit_code`` (what the audit's verdicts imply; differs only for ``audit demo``
    without ``--strict``), ``counts`` (per verdict, summed over the models),
    ``blocking_failures``, ``report_folders``, ``side_by_side_report`` and ``models`` (one
    object per model with its name, decision, exit code, counts and report folder).
    """
    from audit.report.markdown import blocking_failures
    from audit.results import Verdict

    models = []
    for r, f in zip(results, folders, strict=True):
        models.append({
            "name": (r.manifest or {}).get("model_name"),
            "decision": str(r.summary.decision),
            "exit_code": r.summary.exit_code,
            "counts": {v.value: int(r.summary.counts.get(v.value, 0)) for v in Verdict},
            "blocking_failures": [_failure(c) for c in blocking_failures(r)],
            "report_folder": str(f),
        })
    worst = max(models, key=lambda m: (m["exit_code"], _rank(m["decision"])))
    return {
        "policy": results[0].policy_name,
        "decision": worst["decision"],
        "exit_code": exit_code,
        "audit_exit_code": max(m["exit_code"] for m in models),
        "counts": {v.value: sum(m["counts"][v.value] for m in models) for v in Verdict},
        "blocking_failures": [dict(f, model=m["name"]) for m in models for f in m["blocking_failures"]],
        "report_folders": [m["report_folder"] for m in models],
        "side_by_side_report": str(side_by_side) if side_by_side else None,
        "models": models,
    }


def publish(results: Sequence[AuditResult], folders: Sequence[Path], args: argparse.Namespace, *,
            exit_code: int, side_by_side: Path | None = None) -> int:
    """Markdown summary, MLflow runs and the JSON object, as the options ask; the exit code.

    Returns ``exit_code``, or 2 when MLflow logging failed (the reports exist regardless).
    """
    from audit.errors import IntegrationError
    from audit.report.markdown import append_step_summary, summary_markdown

    extra: dict = {}
    md_path = getattr(args, "summary_md", None)
    md = summary_markdown(results, folders)
    if md_path:
        Path(md_path).parent.mkdir(parents=True, exist_ok=True)
        Path(md_path).write_text(md, encoding="utf-8")
        extra["summary_md"] = str(md_path)
    step = append_step_summary(md)
    if step is not None:
        extra["github_step_summary"] = str(step)
    if getattr(args, "mlflow", False) or getattr(args, "mlflow_experiment", None):
        try:
            extra["mlflow"] = _log_mlflow(results, folders, side_by_side, args.mlflow_experiment)
        except IntegrationError as exc:
            print(f"audit: error: {exc} (the report folders were written: "
                  f"{', '.join(str(f) for f in folders)})", file=sys.stderr)
            extra["mlflow"] = {"error": str(exc)}
            exit_code = 2
        else:
            if getattr(args, "format", "text") != "json":
                runs = extra["mlflow"]
                print(f"mlflow: run {runs['runs'][0]}" if runs["parent"] is None else
                      f"mlflow: parent run {runs['parent']}, runs {', '.join(runs['runs'])}")
    if getattr(args, "format", "text") == "json":
        obj = run_summary(results, folders, exit_code=exit_code, side_by_side=side_by_side)
        obj.update(extra)
        print_json(obj)
    return exit_code


def _log_mlflow(results, folders, side_by_side, experiment: str | None) -> dict:
    from audit.integrations.mlflow import log_audit, log_audits

    if len(results) == 1:
        return {"parent": None, "runs": [log_audit(results[0], folders[0], experiment=experiment)]}
    # The side-by-side writer returns its HTML file; the parent run gets that file's folder.
    side_folder = side_by_side.parent if side_by_side is not None and side_by_side.is_file() else side_by_side
    logged = log_audits(results, folders, experiment=experiment, parent_folder=side_folder)
    return {"parent": logged.parent, "runs": logged.children}


def print_json(obj: dict) -> None:
    """One JSON object on stdout (UTF-8, keys in insertion order, a trailing newline)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _failure(c) -> dict:
    return {"id": c.id, "name": c.name, "evalset": c.evalset, "verdict": c.verdict.value,
            "value": c.value, "interval": None if c.interval is None else [c.interval.low, c.interval.high],
            "threshold": c.threshold}


def _rank(decision: str) -> int:
    order = ("PASS", "PASS WITH WARNINGS", "FAIL")
    return order.index(decision) if decision in order else len(order)
