"""The Python API: audit DataFrames and fitted models from a notebook or a pipeline.

::

    import audit

    result = audit.run("policies/demo.yaml", model=fitted_pipeline, data=holdout_df,
                       reference=train_df, seed=1)
    result.passed                     # False when a blocking check failed
    result.to_dataframe()             # one row per check
    result.write_report("reports/")   # the CLI's report folder: HTML, PDF, JSON, JUnit

The command line is a thin layer over these functions; both return the same
:class:`Result` (an :class:`~audit.results.AuditResult`, the model of
results.json, with conveniences). Nothing is written to disk unless asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from audit.errors import InputError
from audit.policy import LoadedPolicy
from audit.results import AuditResult, Verdict

__all__ = ["Result", "run", "run_models", "load_policy", "validate"]

_FORMATS = ("html", "pdf", "json", "junit")


class Result(AuditResult):
    """An :class:`AuditResult` with the conveniences a notebook or a pipeline wants."""

    @property
    def passed(self) -> bool:
        """True when no blocking check failed (the CLI's exit code 0)."""
        return self.summary.exit_code == 0

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """Verdict per check, keyed ``"<name> [<evalset>]"`` (``#2``... on repeats)."""
        out: dict[str, Verdict] = {}
        for r in self.results:
            key = f"{r.name} [{r.evalset}]"
            k, i = key, 2
            while k in out:
                k, i = f"{key} #{i}", i + 1
            out[k] = r.verdict
        return out

    def to_dataframe(self, groups: bool = False):
        """One row per check (with ``groups=True``: one row per check and group).

        Columns: id, name, evalset, verdict, value, low, high, level, n, threshold, blocking,
        message (and group, group_n, group_value, group_low, group_high, small).
        """
        import pandas as pd

        from audit.verdict import threshold_text

        rows = []
        for r in self.results:
            row = {"id": r.id, "name": r.name, "evalset": r.evalset, "verdict": r.verdict.value,
                   "value": r.value, "low": r.interval.low if r.interval else None,
                   "high": r.interval.high if r.interval else None,
                   "level": r.interval.level if r.interval else None, "n": r.n,
                   "threshold": threshold_text(r.threshold) if r.threshold else "", "blocking": r.blocking,
                   "message": r.message}
            if not groups:
                rows.append(row)
                continue
            for g in r.groups or [None]:
                rows.append({**row, "group": None if g is None else g.group, "group_n": None if g is None else g.n,
                             "group_value": None if g is None else g.value,
                             "group_low": g.interval.low if g is not None and g.interval else None,
                             "group_high": g.interval.high if g is not None and g.interval else None,
                             "small": None if g is None else g.small})
        return pd.DataFrame(rows)

    def to_json(self, indent: int | None = 2) -> str:
        """results.json as a string."""
        return self.model_dump_json(indent=indent)

    def write_report(self, folder: str | os.PathLike, formats: Iterable[str] = _FORMATS) -> Path:
        """Write a report folder (new, never overwriting) under ``folder``; returns its path.

        ``formats``: any of ``html``, ``pdf``, ``json``, ``junit``.
        """
        from audit.report.writer import write_report

        chosen = set(formats)
        unknown = chosen - set(_FORMATS)
        if unknown:
            raise InputError(f"formats: unknown {sorted(unknown)}; expected some of {list(_FORMATS)}")
        return write_report(AuditResult.model_validate(self.model_dump()), folder, formats=chosen)

    def log_to_mlflow(self, report_folder: str | os.PathLike | None = None, *, experiment: str | None = None,
                      run_name: str | None = None) -> str:
        """Log this audit as an MLflow run (metrics, verdict tags, the report folder as artifacts).

        Tracking URI and experiment come from MLflow's own environment variables unless given;
        needs the ``mlflow`` extra. Returns the run id. See docs/ci.md.
        """
        from audit.integrations.mlflow import log_audit

        folder = None if report_folder is None else Path(report_folder)
        return log_audit(AuditResult.model_validate(self.model_dump()), folder, experiment=experiment,
                         run_name=run_name)

    def _repr_html_(self) -> str:
        from audit.report.notebook import summary_html

        return summary_html(self)


def _result(r: AuditResult) -> Result:
    return Result.model_construct(**dict(r))


def load_policy(policy: str | os.PathLike | Mapping | LoadedPolicy, **overrides) -> LoadedPolicy:
    """A validated policy from a path, a dict (the YAML's content) or a loaded policy.

    ``overrides`` (``model_override``, ``data_override``, ``reference_override``) say which
    of the policy's files the caller replaces, so they need not exist. Raises
    :class:`~audit.errors.PolicyError` with every problem found.
    """
    from audit.policy import load_policy as _load
    from audit.policy import load_policy_data

    if isinstance(policy, LoadedPolicy):
        return policy
    if isinstance(policy, Mapping):
        return load_policy_data(dict(policy), **overrides)
    return _load(policy, **overrides)


def validate(policy: str | os.PathLike | Mapping, **overrides) -> LoadedPolicy:
    """Load and validate a policy without running it (raises PolicyError; returns it when valid)."""
    return load_policy(policy, **overrides)


def _given(v) -> str | None:
    return None if v is None else ("<given>" if not isinstance(v, str | os.PathLike) else str(v))


def run_models(policy, models: list | tuple = (), *, data=None, reference=None, seed: int | None = None,
               executor: str | None = None, trust_model: bool = False, baseline: str | None = None,
               progress: bool = False, trust_types: tuple[str, ...] | list[str] = (),
               **execution: Any) -> list[Result]:
    """Audit several candidate models (paths or fitted objects) with one policy; one result each.

    See :func:`run` for the arguments. With ``models=()`` the policy's own models are audited.
    """
    from audit.input_checks import data_check
    from audit.runner import RunOptions, run_audits

    first = models[0] if models else None
    # The policy is checked against the data's schema as it loads: one error lists both.
    lp = load_policy(policy, model_override=_given(first), data_override=_given(data),
                     reference_override=_given(reference), data_check=data_check(data, reference))
    opts = RunOptions(models=tuple(models), data=data, reference=reference, seed=seed, executor=executor,
                      trust_model=trust_model, trust_types=tuple(trust_types), baseline=baseline,
                      progress=progress, dask_address=execution.pop("dask_address", None), **execution)
    return [_result(r) for r in run_audits(lp, opts)]


def run(policy, *, model=None, data=None, reference=None, seed: int | None = None, executor: str | None = None,
        trust_model: bool = False, baseline: str | None = None, progress: bool = False,
        trust_types: tuple[str, ...] | list[str] = (), **execution: Any) -> Result:
    """Run every check of ``policy`` and return the :class:`Result`.

    Parameters
    ----------
    policy : path, dict or LoadedPolicy
        The policy (YAML file, its content as a dict, or :func:`load_policy`'s result).
    model : estimator or path, optional
        A fitted model (anything with ``predict``/``predict_proba``) or a model file; default:
        the policy's model.
    data, reference : DataFrame or path, optional
        Held-out and reference (training) data; default: the policy's files.
    seed : int, optional
        Overrides the policy's seed.
    executor : {"memory", "local", "dask"}, optional
        Where partitions run; every executor gives the same numbers.
    trust_model : bool
        Allow model files that run code when loaded (pickle, joblib) and entry points.
    trust_types : sequence of str
        Types a ``.skops`` file may hold beyond skops' safe list, by full name (``--trust-type``).
    progress : bool
        Show progress (off by default in the API).
    **execution
        ``workers``, ``partition_rows``, ``sample_rows``, ``dask_address``.
    """
    results = run_models(policy, [] if model is None else [model], data=data, reference=reference, seed=seed,
                         executor=executor, trust_model=trust_model, baseline=baseline, progress=progress,
                         trust_types=trust_types, **execution)
    if len(results) > 1:
        raise InputError(f"the policy names {len(results)} models; use audit.run_models() to audit them all")
    return results[0]
