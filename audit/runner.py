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
from audit.data.dataset import Dataset
from audit.data.loading import load_dataset, table_sha256
from audit.errors import CheckSkipped
from audit.evalsets import EvalSetSpec
from audit.manifest import hardware, library_versions, utc_now
from audit.models.loading import file_sha256, load_model
from audit.policy import CheckEntry, LoadedPolicy, load_policy
from audit.results import AuditResult, CheckResult, Measurement, Summary, Verdict
from audit.verdict import decide

__all__ = ["RunOptions", "run_audit", "run_audits", "run_policy_file", "run_policy_file_all", "summarise"]


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides of a policy.

    ``models`` replaces the policy's model(s); with several, every check runs on each
    (a side-by-side comparison of candidate models).
    """

    models: tuple[str, ...] = ()
    data: str | None = None
    reference: str | None = None
    seed: int | None = None
    trust_model: bool = False
    baseline: str | None = None
    progress: bool = True
    executor: str | None = None  # memory | local | dask (default: the policy's execution block)
    dask_address: str | None = None
    workers: int | None = None
    partition_rows: int | None = None
    sample_rows: int | None = None


def execution_settings(lp: LoadedPolicy, options: RunOptions):
    """The policy's ``execution`` block with the command line's overrides applied."""
    upd = {k: v for k, v in (("executor", options.executor), ("address", options.dask_address),
                             ("workers", options.workers), ("partition_rows", options.partition_rows),
                             ("sample_rows", options.sample_rows)) if v is not None}
    if options.dask_address and not options.executor:
        upd["executor"] = "dask"
    ex = lp.policy.execution
    if not upd:
        return ex
    from pydantic import ValidationError

    from audit.errors import InputError

    try:
        return ex.model_validate({**ex.model_dump(), **upd})
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-").replace("address", "dask-address")
        raise InputError(f"{flag}: {err['msg'].lower()}; got {err.get('input')!r}") from None


def run_policy_file(policy_path: str | Path, options: RunOptions = RunOptions()) -> AuditResult:
    """Load a policy (overrides applied) and run the audit of its first model. Raises InputError on bad inputs."""
    return run_policy_file_all(policy_path, options)[0]


def run_policy_file_all(policy_path: str | Path, options: RunOptions = RunOptions()) -> list[AuditResult]:
    """Load a policy and audit every model it (or ``options.models``) names, in order."""
    lp = load_policy(policy_path, model_override=options.models[0] if options.models else None,
                     data_override=options.data, reference_override=options.reference)
    return run_audits(lp, options)


@dataclass
class _Inputs:
    dataset: Dataset
    task: str
    files: dict
    constraints: dict


def _load_inputs(lp: LoadedPolicy, options: RunOptions) -> _Inputs:
    p = lp.policy
    data_path = Path(options.data) if options.data else lp.resolve(p.data.path)
    ref_path = Path(options.reference) if options.reference else lp.resolve(p.data.reference)
    dataset, task = load_dataset(
        data_path, target=p.data.target, sensitive=list(p.data.sensitive), features=p.data.features,
        sensitive_features=p.data.sensitive_features, prediction=p.data.prediction, score=p.data.score,
        reference=ref_path, task=p.task,
    )
    files = {"policy": {"path": str(lp.path), "sha256": lp.sha256},
             "data": {"path": str(data_path), "sha256": table_sha256(data_path), "rows": dataset.n_rows}}
    if ref_path is not None:
        files["reference"] = {"path": str(ref_path), "sha256": file_sha256(ref_path),
                              "rows": dataset.reference.n_rows}
    # Completed once from the data: the same for every candidate model.
    constraints = resolve_constraints(dataset.X, dataset.feature_types, dict(p.constraints),
                                      dataset.reference.X if dataset.reference is not None else None)
    return _Inputs(dataset, task, files, constraints)


def _model_loaders(lp: LoadedPolicy, options: RunOptions) -> list[tuple[str, object]]:
    """(name, thunk returning (ModelAdapter, file or None)) per model; [(None, None)] if predictions-only."""
    p = lp.policy
    if options.models:
        return [(Path(m).stem, (lambda m=m: (load_model(Path(m), trust=options.trust_model), Path(m))))
                for m in options.models]
    refs = [(r.name, r) for r in p.models] if p.models else ([(None, p.model)] if p.model else [])
    out = []
    for name, ref in refs:
        f = lp.resolve(ref.path)
        out.append((name or (f.stem if f else ref.entrypoint),
                    lambda ref=ref, f=f: (load_model(f, entrypoint=ref.entrypoint, trust=ref.trust or options.trust_model,
                                                     batch_size=ref.batch_size), f)))
    return out or [(None, None)]


def _context(lp: LoadedPolicy, options: RunOptions, inputs: _Inputs, model) -> AuditContext:
    p = lp.policy
    ds = inputs.dataset
    settings = AuditSettings(
        seed=p.seed if options.seed is None else options.seed, confidence=p.defaults.confidence,
        n_boot=p.defaults.n_boot, min_group_size=p.defaults.min_group_size, task=inputs.task,
        pos_label=p.pos_label,
    )
    specs = {name: EvalSetSpec(name=name, kind=d.kind, severity=d.severity, params=dict(d.params))
             for name, d in p.evalsets.items()}
    return AuditContext(settings=settings, dataset=ds, model=model, constraints=dict(inputs.constraints),
                        declared_constraints=dict(p.constraints), evalset_specs=specs)


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
    """Run every check of a loaded policy on its (first) model and return the :class:`AuditResult`."""
    return run_audits(lp, options)[0]


def run_audits(lp: LoadedPolicy, options: RunOptions = RunOptions()) -> list[AuditResult]:
    """Run every check of a loaded policy on each model it names.

    The data is loaded once; evaluation sets that do not depend on the model are
    built once and shared by every model's audit.

    Raises
    ------
    InputError
        When a model or the data cannot be loaded (nothing is audited).
    """
    execution = execution_settings(lp, options)
    if execution.executor != "memory":
        from audit.scale import run_streamed

        return run_streamed(lp, options, execution)
    inputs = _load_inputs(lp, options)
    loaders = _model_loaders(lp, options)
    loaded = [(name, *(thunk() if thunk else (None, None))) for name, thunk in loaders]
    shared: dict = {}
    out = []
    for name, model, model_file in loaded:
        ctx = _context(lp, options, inputs, model)
        ctx._sets.update(shared)
        out.append(_audit_one(lp, options, ctx, inputs, name, model, model_file))
        shared = {k: es for k, es in ctx.built_evalsets().items() if _model_free(ctx, k)}
    return out


def _model_free(ctx: AuditContext, name: str) -> bool:
    from audit.evalsets import get_builder

    if name == "base":
        return True
    try:
        return not get_builder(ctx.resolve(name).kind).needs_model
    except (KeyError, ValueError):
        return False


def _run_parallel(ctx, p, run, workers: int, advance) -> list[CheckResult]:
    """Checks on ``workers`` threads, in policy order in the result.

    Checks share evaluation sets, predictions and fitted detectors through the
    context's lock-guarded caches, and seed from their own ids, so the order in which
    threads finish changes nothing. BLAS/OpenMP pools get one thread per check so the
    cores are not oversubscribed. Runtime-profile checks (``latency.*``) measure this
    machine's speed: they run afterwards, alone.
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    results: list = [None] * len(p.checks)
    timed = [i for i, e in enumerate(p.checks) if e.id.startswith("latency.")]
    free = [i for i in range(len(p.checks)) if i not in timed]

    def one(i):
        r = run(ctx, i, p.checks[i], p.defaults.decision)
        advance(p.checks[i].id, 1)
        return i, r

    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        for i, r in pool.map(one, free):
            results[i] = r
    for i in timed:
        results[i] = one(i)[1]
    return results


def _audit_one(lp, options, ctx, inputs, name, model, model_file, run_check=None, evalsets=None,
               extra_manifest=None, parallel: int = 1) -> AuditResult:
    started = utc_now()
    t0 = time.perf_counter()
    p = lp.policy
    files = dict(inputs.files)
    if model is not None:
        files["model"] = {"name": name, "source": model.source, "kind": model.kind,
                          "sha256": file_sha256(model_file) if model_file is not None else None}
    else:
        files["model"] = {"source": "predictions-only", "prediction_column": p.data.prediction,
                          "score_column": p.data.score}
    run = run_check or _run_one
    with _progress(options.progress, len(p.checks), name) as advance:
        if parallel > 1:
            results = _run_parallel(ctx, p, run, parallel, advance)
        else:
            results = []
            for i, entry in enumerate(p.checks):
                advance(entry.id, 0)
                results.append(run(ctx, i, entry, p.defaults.decision))
                advance(entry.id, 1)
    changed_inputs = None
    if options.baseline:
        from audit.compare import apply_baseline, changed_files, load_results

        baseline = load_results(options.baseline)
        results = apply_baseline(results, baseline, p)
        # Policy, model or data that differ from the baseline run's (by SHA-256), for the reviewer.
        changed_inputs = changed_files(baseline.manifest.get("files", {}), files)
    summary = summarise(results, p.defaults.inconclusive_fails)
    versions = library_versions()
    manifest = {
        "toolkit_version": versions.get("audit", "unknown"),
        "started_at": started,
        "finished_at": utc_now(),
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "seed": ctx.seed,
        "task": ctx.task,
        "model_name": name,
        "pos_label": _jsonable(ctx.pos_label),
        "inconclusive_fails": p.defaults.inconclusive_fails,
        "files": files,
        "baseline": options.baseline,
        "changed_since_baseline": changed_inputs,
        "libraries": versions,
        "hardware": hardware(),
        "timings": {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in ctx.timings.items()},
        "execution": {"executor": "memory"},
        **(extra_manifest or {}),
    }
    if evalsets is None:
        evalsets = {n: es.describe() for n, es in sorted(ctx.built_evalsets().items())}
    return AuditResult(policy_name=p.name, manifest=manifest, evalsets=evalsets, results=results,
                       summary=summary, policy_text=lp.text)


def _jsonable(v):
    return v.item() if hasattr(v, "item") else v


class _progress:
    """A rich progress bar (silent when disabled): over checks, or ``title`` (partitions of a
    streamed audit). ``advance(description, step)`` moves it."""

    def __init__(self, enabled: bool, total: int, label: str | None = None, title: str | None = None):
        self.enabled, self.total, self._p = enabled, total, None
        self.label = title or (f"checks ({label})" if label else "checks")

    def __enter__(self):
        if not self.enabled:
            return lambda _id, _step: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._p = Progress(TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("{task.description}"), transient=True)
        self._p.__enter__()
        task = self._p.add_task("", total=self.total)
        return lambda cid, step: self._p.update(task, advance=step, description=cid)

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.__exit__(*exc)
