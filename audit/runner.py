"""Plan, build, predict, measure, decide: one audit from a policy.

The runner is the only place that knows about files, models and checks at
once. Checks get a :class:`~audit.context.CheckContext`; a check that raises
becomes an ERROR result and the audit goes on.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from audit.checks import CheckSpec, get_check
from audit.constraints import resolve_constraints
from audit.context import AuditContext, AuditSettings
from audit.data.loading import load_dataset
from audit.errors import CheckSkipped
from audit.evalsets import EvalSetSpec
from audit.manifest import hardware, library_versions, utc_now
from audit.models.loading import file_sha256, load_model
from audit.policy import CheckEntry, LoadedPolicy, load_policy
from audit.results import AuditResult, CheckResult, Measurement, Summary, Verdict
from audit.verdict import decide

__all__ = ["RunOptions", "run_audit", "run_policy_file", "summarise"]


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides of a policy."""

    model: str | None = None
    data: str | None = None
    reference: str | None = None
    seed: int | None = None
    trust_model: bool = False
    baseline: str | None = None
    progress: bool = True


def run_policy_file(policy_path: str | Path, options: RunOptions = RunOptions()) -> AuditResult:
    """Load a policy (overrides applied) and run the audit. Raises InputError on bad inputs."""
    lp = load_policy(policy_path, model_override=options.model, data_override=options.data)
    return run_audit(lp, options)


def _prepare(lp: LoadedPolicy, options: RunOptions) -> tuple[AuditContext, dict]:
    p = lp.policy
    data_path = Path(options.data) if options.data else lp.resolve(p.data.path)
    ref_path = Path(options.reference) if options.reference else lp.resolve(p.data.reference)
    dataset, task = load_dataset(
        data_path, target=p.data.target, sensitive=list(p.data.sensitive), features=p.data.features,
        sensitive_features=p.data.sensitive_features, prediction=p.data.prediction, score=p.data.score,
        reference=ref_path, task=p.task,
    )
    model, model_file = None, None
    if options.model:
        model_file = Path(options.model)
        model = load_model(model_file, trust=options.trust_model)
    elif p.model is not None:
        model_file = lp.resolve(p.model.path)
        model = load_model(model_file, entrypoint=p.model.entrypoint,
                           trust=p.model.trust or options.trust_model, batch_size=p.model.batch_size)
    settings = AuditSettings(
        seed=p.seed if options.seed is None else options.seed, confidence=p.defaults.confidence,
        n_boot=p.defaults.n_boot, min_group_size=p.defaults.min_group_size, task=task, pos_label=p.pos_label,
    )
    constraints = resolve_constraints(dataset.X, dataset.feature_types, dict(p.constraints),
                                      dataset.reference.X if dataset.reference is not None else None)
    specs = {name: EvalSetSpec(name=name, kind=d.kind, severity=d.severity, params=dict(d.params))
             for name, d in p.evalsets.items()}
    ctx = AuditContext(settings=settings, dataset=dataset, model=model, constraints=constraints,
                       evalset_specs=specs)
    files = {"policy": {"path": str(lp.path), "sha256": lp.sha256},
             "data": {"path": str(data_path), "sha256": file_sha256(data_path), "rows": dataset.n_rows}}
    if ref_path is not None:
        files["reference"] = {"path": str(ref_path), "sha256": file_sha256(ref_path),
                              "rows": dataset.reference.n_rows}
    if model is not None:
        files["model"] = {"source": model.source, "kind": model.kind,
                          "sha256": file_sha256(model_file) if model_file is not None else None}
    else:
        files["model"] = {"source": "predictions-only", "prediction_column": p.data.prediction,
                          "score_column": p.data.score}
    return ctx, files


def _skip_reason(spec: CheckSpec, ctx: AuditContext) -> str | None:
    ds = ctx.dataset
    if ctx.task not in spec.tasks:
        return f"applies to {', '.join(sorted(spec.tasks))} models; this is a {ctx.task} audit"
    if "model" in spec.needs and ctx.model is None:
        return "needs a live model; this is a predictions-only audit"
    if "scores" in spec.needs and ctx.model is None and ds.score is None:
        return "needs scores; the data names no score column"
    if "scores" in spec.needs and ctx.model is not None and not ctx.model.has_proba:
        return "needs scores; the model has no predict_proba"
    if "reference" in spec.needs and ds.reference is None:
        return "needs reference (training) data; the policy names none (data.reference)"
    if "sensitive" in spec.needs and ds.sensitive.shape[1] == 0:
        return "needs sensitive columns; the policy names none (data.sensitive)"
    return None


def _run_one(ctx: AuditContext, index: int, entry: CheckEntry, default_decision: str) -> CheckResult:
    spec = get_check(entry.id)
    evalset = entry.evalset or spec.default_evalset
    params = spec.params.model_validate(entry.params)
    base = dict(id=entry.id, name=entry.name or entry.id, family=spec.family, evalset=evalset,
                params=params.model_dump(mode="json"), threshold=entry.threshold.model_dump(mode="json"),
                blocking=entry.threshold.blocking, reference=entry.threshold.reference)
    t0 = time.perf_counter()
    reason = _skip_reason(spec, ctx)
    if reason:
        return CheckResult(**base, verdict=Verdict.SKIPPED, message=reason)
    try:
        m: Measurement = spec.func(ctx.for_check(entry.id, evalset, index), params)
    except CheckSkipped as exc:
        return CheckResult(**base, verdict=Verdict.SKIPPED, message=str(exc),
                           duration_s=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - one crashing check must not crash the audit
        return CheckResult(**base, verdict=Verdict.ERROR, message=f"{type(exc).__name__}: {exc}",
                           duration_s=time.perf_counter() - t0,
                           error={"type": type(exc).__name__, "message": str(exc),
                                  "traceback": traceback.format_exc()})
    verdict, why = decide(m, entry.threshold, default_decision)
    message = f"{m.message} — {why}" if m.message else why
    return CheckResult(**base, verdict=verdict, value=m.value, interval=m.interval, n=m.n, groups=m.groups,
                       message=message, details=m.details, duration_s=time.perf_counter() - t0)


def summarise(results: list[CheckResult], inconclusive_fails: bool = False) -> Summary:
    """Counts per verdict, the overall decision and the exit code (0 pass, 1 fail)."""
    counts = {v.value: 0 for v in Verdict}
    for r in results:
        counts[r.verdict.value] += 1
    gating = {Verdict.FAIL, Verdict.ERROR} | ({Verdict.INCONCLUSIVE} if inconclusive_fails else set())
    failures = [f"{r.name} [{r.evalset}]" for r in results if r.blocking and r.verdict in gating]
    if failures:
        decision = "FAIL"
    elif any(r.verdict in (Verdict.WARN, Verdict.INCONCLUSIVE, Verdict.FAIL, Verdict.ERROR) for r in results):
        decision = "PASS WITH WARNINGS"
    else:
        decision = "PASS"
    return Summary(counts=counts, decision=decision, exit_code=1 if failures else 0,
                   blocking_failures=failures)


def run_audit(lp: LoadedPolicy, options: RunOptions = RunOptions()) -> AuditResult:
    """Run every check of a loaded policy and return the :class:`AuditResult`.

    Raises
    ------
    InputError
        When the model or data cannot be loaded (nothing is audited).
    """
    started = utc_now()
    t0 = time.perf_counter()
    ctx, files = _prepare(lp, options)
    p = lp.policy
    results = []
    with _progress(options.progress, len(p.checks)) as advance:
        for i, entry in enumerate(p.checks):
            results.append(_run_one(ctx, i, entry, p.defaults.decision))
            advance(entry.id)
    if options.baseline:
        from audit.compare import apply_baseline, load_results

        results = apply_baseline(results, load_results(options.baseline), p)
    summary = summarise(results, p.defaults.inconclusive_fails)
    manifest = {
        "toolkit_version": library_versions().get("audit", "unknown"),
        "started_at": started,
        "finished_at": utc_now(),
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "seed": ctx.seed,
        "task": ctx.task,
        "pos_label": _jsonable(ctx.pos_label),
        "inconclusive_fails": p.defaults.inconclusive_fails,
        "files": files,
        "baseline": options.baseline,
        "libraries": library_versions(),
        "hardware": hardware(),
        "timings": {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in ctx.timings.items()},
    }
    evalsets = {name: es.describe() for name, es in sorted(ctx.built_evalsets().items())}
    return AuditResult(policy_name=p.name, manifest=manifest, evalsets=evalsets, results=results,
                       summary=summary, policy_text=lp.text)


def _jsonable(v):
    return v.item() if hasattr(v, "item") else v


class _progress:
    """A rich progress bar over checks (silent when disabled or not a terminal)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self._p = enabled, total, None

    def __enter__(self):
        if not self.enabled:
            return lambda _id: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("[bold]checks"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("{task.description}"), transient=True)
        self._p.__enter__()
        task = self._p.add_task("", total=self.total)
        return lambda cid: self._p.update(task, advance=1, description=cid)

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)
