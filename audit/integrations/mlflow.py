"""Audit evidence to MLflow: one run per audited model, a parent run for side-by-side candidates.

What one run holds (``<check>`` is the check's key, see :func:`check_keys`):

- metrics ``<check>`` (the value), ``<check>/ci_low`` and ``<check>/ci_high`` (its interval
  bounds; a bound that is undefined is not logged), ``audit/exit_code`` and
  ``audit/count/<VERDICT>`` for each verdict;
- tags ``verdict/<check>`` and ``threshold/<check>`` (as the report writes it, e.g.
  ``≥ 0.70 (warn < 0.72)``), ``audit.decision``, ``audit.exit_code``, ``audit.policy``,
  ``audit.model``, ``audit.seed``, ``audit.toolkit_version``, ``audit.blocking_failures``,
  ``audit.sha256.<input>`` for each input file the manifest hashes (policy, model, data,
  reference), ``audit.run_digest`` when the manifest has one, ``audit.results_sha256`` (of the
  ``results.json`` logged), ``audit.model.mlflow_uri`` / ``..._version`` / ``..._run_id`` for a
  model that came from MLflow, and ``mlflow.note.content``: the Markdown summary, which MLflow
  shows as the run's description;
- artifacts: the report folder (``report.html``, ``report.pdf``, ``results.json``,
  ``junit.xml``, ``policy.yaml``) under ``audit-report/``.

The tracking server and experiment come from MLflow's environment variables
(``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME`` or ``MLFLOW_EXPERIMENT_ID``) unless given
as arguments. The client API is used, never MLflow's global "active run", so logging an audit
from inside a user's own ``mlflow.start_run()`` block leaves that run alone (pass its id as
``parent_run_id`` to nest the audit under it).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.errors import IntegrationError
from audit.extras import import_extra
from audit.report._format import threshold_text, verdict_str
from audit.results import AuditResult, Verdict

__all__ = ["log_audit", "log_audits", "LoggedRuns", "check_keys", "metric_name"]

ARTIFACT_DIR = "audit-report"
_MAX_KEY = 250          # MLflow's limit on metric, param and tag names
_MAX_TAG_VALUE = 8000   # ... and on tag values
_TAGS_PER_BATCH = 100   # log_batch: at most 100 params and tags per call
_METRICS_PER_BATCH = 1000
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.\- /]")  # MLflow's set, less ':' (refused on Windows)


@dataclass(frozen=True)
class LoggedRuns:
    """Run ids of a side-by-side audit: the parent run and one child per model, in order."""

    parent: str
    children: list[str]


def metric_name(text: str) -> str:
    """``text`` as a valid MLflow metric or tag name.

    Characters outside letters, digits, ``_ . - /`` and space become ``_``; empty,
    ``.`` and ``..`` path segments are dropped (MLflow refuses names that a file system
    would resolve to another name); at most 250 characters.
    """
    parts = [p.strip() for p in _NOT_ALLOWED.sub("_", text).split("/")]
    parts = [p for p in parts if p and p not in (".", "..")]
    name = "/".join(parts) or "_"
    return name[:_MAX_KEY].rstrip("/ ") or "_"


def check_keys(result: AuditResult) -> list[str]:
    """One stable, unique MLflow key per check result, in policy order.

    ``<id>/<evaluation set>`` (``@`` and other characters MLflow refuses become ``_``);
    where several checks share id and evaluation set, the check's name is added
    (``<id>/<evalset>/<name>``), and a ``-2``, ``-3`` suffix if still ambiguous. The
    key does not depend on the other checks' values, so the same policy gives the same
    keys run after run and MLflow can chart a check across runs.
    """
    # Leave room for the longest suffix added to a key ("/ci_high") and a "-NN" counter.
    room = _MAX_KEY - len("/ci_high") - 4
    base = [metric_name(f"{r.id}/{r.evalset}")[:room] for r in result.results]
    keys = [metric_name(f"{b}/{r.name}")[:room] if base.count(b) > 1 and r.name != r.id else b
            for b, r in zip(base, result.results, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}-{seen[k]}")
    return out


def log_audit(result: AuditResult, report_folder: Path | None, *, experiment: str | None = None,
              run_name: str | None = None, parent_run_id: str | None = None) -> str:
    """Log one audited model's evidence as one MLflow run.

    Parameters
    ----------
    result : AuditResult
        The audit.
    report_folder : Path or None
        Its report folder (HTML, PDF, results.json, JUnit), logged under ``audit-report/``.
    experiment : str, optional
        Experiment name (created when missing); default ``MLFLOW_EXPERIMENT_NAME`` or
        ``MLFLOW_EXPERIMENT_ID``, else MLflow's default experiment.
    run_name : str, optional
        Default ``<policy name> / <model name>``.
    parent_run_id : str, optional
        Nest the run under this one.

    Returns
    -------
    str
        The new run's id.

    Raises
    ------
    MissingExtraError
        MLflow is not installed (``pip install 'audit[mlflow]'``).
    IntegrationError
        The tracking server refused or could not be reached; the run, if created, is
        marked FAILED.
    """
    mlflow = import_extra("mlflow", "mlflow", "logging audits to MLflow")
    client = mlflow.MlflowClient()
    return _log_audit(client, _experiment_id(client, experiment), result, report_folder,
                      run_name, parent_run_id)


def _log_audit(client, exp_id, result: AuditResult, folder: Path | None, run_name: str | None,
               parent_run_id: str | None) -> str:
    tags = _run_tags(result, folder)
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    return _log_run(client, exp_id, run_name or _default_run_name(result), tags,
                    _metrics(result), _params(result), folder)


def log_audits(results: Sequence[AuditResult], folders: Sequence[Path | None], *,
               experiment: str | None = None, run_name: str | None = None,
               parent_run_id: str | None = None, parent_folder: Path | None = None) -> LoggedRuns:
    """Log several candidate models audited side by side: a parent run, one child run per model.

    The parent run holds the worst decision and exit code over the models, the models'
    names, the policy, and (``parent_folder``) the side-by-side report as artifacts; each
    child is :func:`log_audit` of one model with ``mlflow.parentRunId`` set.

    Parameters
    ----------
    results, folders : sequences of the same length
        Each model's audit and its report folder.
    experiment, run_name, parent_run_id
        As :func:`log_audit`; ``run_name`` names the parent run (default ``<policy> (N models)``),
        ``parent_run_id`` nests the parent itself.
    parent_folder : Path, optional
        The side-by-side report folder.

    Returns
    -------
    LoggedRuns
        The parent run id and the child run ids, in the order of ``results``.
    """
    if len(results) != len(folders):
        raise ValueError(f"log_audits: {len(results)} results but {len(folders)} report folders; "
                         "give one folder (or None) per result")
    if not results:
        raise ValueError("log_audits: no results to log")
    mlflow = import_extra("mlflow", "mlflow", "logging audits to MLflow")
    client = mlflow.MlflowClient()
    exp_id = _experiment_id(client, experiment)
    worst = max(results, key=lambda r: (r.summary.exit_code, _decision_rank(r.summary.decision)))
    tags = {
        "audit.policy": results[0].policy_name,
        "audit.decision": str(worst.summary.decision),
        "audit.exit_code": str(max(r.summary.exit_code for r in results)),
        "audit.models": ", ".join(_model_name(r) for r in results),
        "audit.side_by_side": "true",
    }
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    metrics = {"audit/exit_code": float(max(r.summary.exit_code for r in results))}
    parent = _log_run(client, exp_id, run_name or f"{results[0].policy_name} ({len(results)} models)",
                      tags, metrics, {}, parent_folder)
    children = [_log_audit(client, exp_id, r, f, _model_name(r), parent)
                for r, f in zip(results, folders, strict=True)]
    return LoggedRuns(parent, children)


# -- what is logged ------------------------------------------------------------------------------

def _metrics(result: AuditResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, r in zip(check_keys(result), result.results, strict=True):
        if r.value is not None:
            out[key] = float(r.value)
        if r.interval is not None:
            if r.interval.low is not None:
                out[f"{key}/ci_low"] = float(r.interval.low)
            if r.interval.high is not None:
                out[f"{key}/ci_high"] = float(r.interval.high)
    out["audit/exit_code"] = float(result.summary.exit_code)
    for v in Verdict:
        out[f"audit/count/{v.value}"] = float(result.summary.counts.get(v.value, 0))
    return out


def _params(result: AuditResult) -> dict[str, str]:
    m = result.manifest or {}
    out = {"policy": result.policy_name, "model": _model_name(result)}
    if m.get("seed") is not None:
        out["seed"] = str(m["seed"])
    return out


def _run_tags(result: AuditResult, folder: Path | None) -> dict[str, str]:
    m = result.manifest or {}
    tags = {
        "audit.policy": result.policy_name,
        "audit.model": _model_name(result),
        "audit.decision": str(result.summary.decision),
        "audit.exit_code": str(result.summary.exit_code),
        "audit.blocking_failures": "; ".join(result.summary.blocking_failures) or "none",
        "audit.toolkit_version": str(m.get("toolkit_version", "unknown")),
        "audit.results_schema": result.schema_version,
    }
    if m.get("seed") is not None:
        tags["audit.seed"] = str(m["seed"])
    if m.get("run_digest"):
        tags["audit.run_digest"] = str(m["run_digest"])
    for name, entry in sorted((m.get("files") or {}).items()):
        if isinstance(entry, dict) and entry.get("sha256"):
            tags[f"audit.sha256.{metric_name(name)}"] = str(entry["sha256"])
    model = (m.get("files") or {}).get("model") or {}
    ml = model.get("mlflow") if isinstance(model, dict) else None
    if isinstance(ml, dict):
        for k in ("uri", "name", "version", "run_id", "model_id"):
            if ml.get(k):
                tags[f"audit.model.mlflow_{k}"] = str(ml[k])
    for key, r in zip(check_keys(result), result.results, strict=True):
        tags[f"verdict/{key}"] = verdict_str(r.verdict)
        tags[f"threshold/{key}"] = threshold_text(r.threshold)
    if folder is not None:
        tags["audit.report_folder"] = Path(folder).name
        results_json = Path(folder) / "results.json"
        if results_json.is_file():
            tags["audit.results_sha256"] = hashlib.sha256(results_json.read_bytes()).hexdigest()
    from audit.report.markdown import summary_markdown

    # MLflow shows this tag as the run's description (rendered Markdown).
    tags["mlflow.note.content"] = summary_markdown([result], [folder] if folder is not None else None)
    return {metric_name(k) if not k.startswith("mlflow.") else k: _tag_value(v) for k, v in tags.items()}


def _tag_value(v: str) -> str:
    return v if len(v) <= _MAX_TAG_VALUE else v[: _MAX_TAG_VALUE - 1] + "…"


def _model_name(result: AuditResult) -> str:
    m = result.manifest or {}
    model = (m.get("files") or {}).get("model") or {}
    return str(m.get("model_name") or (model.get("name") if isinstance(model, dict) else None)
               or (model.get("source") if isinstance(model, dict) else None) or "model")


def _default_run_name(result: AuditResult) -> str:
    return f"{result.policy_name} / {_model_name(result)}"


_DECISIONS = ("PASS", "PASS WITH WARNINGS", "FAIL")


def _decision_rank(decision: str) -> int:
    return _DECISIONS.index(decision) if decision in _DECISIONS else len(_DECISIONS)


# -- talking to MLflow -----------------------------------------------------------------------------

def _experiment_id(client, experiment: str | None) -> str | None:
    """The experiment to log into: the argument, else MLflow's environment variables, else None
    (MLflow's default experiment)."""
    from mlflow.exceptions import MlflowException

    name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    try:
        if name:
            exp = client.get_experiment_by_name(name)
            if exp is not None:
                if exp.lifecycle_stage == "deleted":
                    raise IntegrationError(f"MLflow experiment {name!r} is deleted; restore it or "
                                           "name another (--mlflow-experiment, MLFLOW_EXPERIMENT_NAME)")
                return exp.experiment_id
            return client.create_experiment(name)
        exp_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if exp_id:
            client.get_experiment(exp_id)  # a clear error now rather than at create_run
            return exp_id
        return None
    except MlflowException as exc:
        raise IntegrationError(f"MLflow ({_where(client)}): cannot use experiment "
                               f"{name or os.environ.get('MLFLOW_EXPERIMENT_ID')!r}: {_msg(exc)}") from None
    except OSError as exc:
        raise IntegrationError(f"MLflow ({_where(client)}): cannot reach the tracking store: "
                               f"{_msg(exc)}") from None


def _log_run(client, exp_id: str | None, run_name: str, tags: dict[str, str], metrics: dict[str, float],
             params: dict[str, str], folder: Path | None) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    try:
        run = client.create_run(exp_id if exp_id is not None else _default_experiment(client),
                                run_name=run_name)
    except (MlflowException, OSError) as exc:
        raise IntegrationError(f"MLflow ({_where(client)}): cannot create a run: {_msg(exc)}") from None
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        metric_list = [Metric(k, v, now, 0) for k, v in metrics.items()]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        param_list = [Param(metric_name(k), _tag_value(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(metric_list), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metric_list[i:i + _METRICS_PER_BATCH], synchronous=True)
        entities = [("p", p) for p in param_list] + [("t", t) for t in tag_list]
        for i in range(0, len(entities), _TAGS_PER_BATCH):
            chunk = entities[i:i + _TAGS_PER_BATCH]
            client.log_batch(run_id, params=[e for k, e in chunk if k == "p"],
                             tags=[e for k, e in chunk if k == "t"], synchronous=True)
        if folder is not None:
            client.log_artifacts(run_id, str(folder), artifact_path=ARTIFACT_DIR)
    except (MlflowException, OSError) as exc:
        _terminate(client, run_id, "FAILED")
        raise IntegrationError(f"MLflow ({_where(client)}): logging run {run_id} failed: {_msg(exc)}") from None
    _terminate(client, run_id, "FINISHED")
    return run_id


def _default_experiment(client) -> str:
    from mlflow.entities import Experiment

    return Experiment.DEFAULT_EXPERIMENT_ID


def _terminate(client, run_id: str, status: str) -> None:
    try:
        client.set_terminated(run_id, status)
    except Exception:  # noqa: BLE001 - the first error is the one to report
        pass


def _where(client) -> str:
    from audit.models.mlflow import redact_uri

    return redact_uri(getattr(client, "tracking_uri", None) or "default tracking URI") or "?"


def _msg(exc: Exception) -> str:
    from audit.models.mlflow import scrub

    return scrub(getattr(exc, "message", None) or str(exc))
