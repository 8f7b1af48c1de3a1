"""Plan, pass over the partitions, measure, decide: one audit pipeline for every executor.

The in-memory audit is the one-partition case of the streamed audit:

1. :func:`audit.inputs.prepare_inputs` opens the data, runs the sample pass over
   the partitions (one, in memory) and describes the table;
2. :func:`audit.plan.build_plan` decides, before any set is built, what every
   check reads and where each evaluation set is built;
3. the summary pass builds the partitioned sets, predicts each once per model and
   returns mergeable summaries (:func:`audit.passes.summary_task`);
4. every check runs on an :class:`~audit.context.AuditContext` holding the merged
   summaries and the stratified sample; a check that raises becomes an ERROR
   result and the audit goes on;
5. the verdicts, the manifest and the evaluation-set descriptions make the
   :class:`~audit.results.AuditResult`.

The same data, policy and seed give the same results on every executor and
any partitioning.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audit.checks.latency import TIMING_CHECKS, start_background
from audit.context import AuditContext, AuditSettings
from audit.data.population import check_population, load_population
from audit.digest import with_digest
from audit.errors import CheckSkipped
from audit.evalsets import EvalSetSpec
from audit.inputs import (
    AuditInputs,
    LoadedModel,
    data_digest,
    load_models,
    model_manifest,
    prepare_inputs,
)
from audit.manifest import hardware, library_versions, utc_now
from audit.models.adapter import Predictions
from audit.passes import PartitionJob, merge_summaries, summary_task
from audit.plan import AuditPlan, Facts, PlannedCheck, build_plan, missing_extras
from audit.policy import LoadedPolicy, load_policy
from audit.profiling import wait_background
from audit.progress import progress
from audit.results import AuditResult, CheckResult, Measurement, Summary, Verdict
from audit.scale import ThreadPlan, configured_threads, limited, make_executor, parallel_section
from audit.verdict import decide

__all__ = ["RunOptions", "run_audit", "run_audits", "run_policy_file", "run_policy_file_all", "summarise",
           "execution_settings"]


@dataclass(frozen=True)
class RunOptions:
    """Overrides of a policy (command-line flags, or the Python API's arguments).

    ``models`` replaces the policy's model(s): paths or fitted model objects; with
    several, every check runs on each (a side-by-side comparison of candidate models).
    ``data`` and ``reference`` are paths or pandas DataFrames.
    """

    models: tuple[Any, ...] = ()
    data: Any = None
    reference: Any = None
    seed: int | None = None
    trust_model: bool = False
    trust_types: tuple[str, ...] = ()  # types a skops file may hold beyond skops' safe list (--trust-type)
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
    first = options.models[0] if options.models else None
    lp = load_policy(policy_path, model_override=first if isinstance(first, str | Path) or first is None else "<object>",
                     data_override=None if options.data is None else str(options.data)[:200],
                     reference_override=None if options.reference is None else "<given>")
    return run_audits(lp, options)


def run_audit(lp: LoadedPolicy, options: RunOptions = RunOptions()) -> AuditResult:
    """Run every check of a loaded policy on its (first) model and return the :class:`AuditResult`."""
    return run_audits(lp, options)[0]


def run_audits(lp: LoadedPolicy, options: RunOptions = RunOptions()) -> list[AuditResult]:
    """Run every check of a loaded policy on each model it names; see the module docstring.

    Raises
    ------
    InputError
        When a model or the data cannot be loaded (nothing is audited).
    ExecutionError
        When a partition fails even after the executor's retries (nothing is reported).
    """
    p = lp.policy
    execution = execution_settings(lp, options)
    seed = p.seed if options.seed is None else options.seed
    data = options.data if options.data is not None else lp.resolve(p.data.path)
    reference = options.reference if options.reference is not None else lp.resolve(p.data.reference)
    digest = data_digest(data)  # hashed while the models load, on a core that would wait
    models = load_models(lp, options.models, options.trust_model, tuple(options.trust_types))
    configured = configured_threads()  # before any limit: the process's own thread settings
    population = load_population(p.population, lp.base_dir, list(p.data.sensitive))
    prog = progress(options.progress)
    executor = make_executor(execution.executor, execution.address, execution.workers, execution.memory_limit)
    try:
        threads = ThreadPlan.choose(1 if execution.executor == "memory" else executor.describe()["workers"],
                                    configured)
        t0 = time.perf_counter()
        with limited(threads.predict):  # the models' probe batch runs under the audit's limit too
            inputs = prepare_inputs(lp, data=data, reference=reference, executor=executor,
                                    partition_rows=None if execution.executor == "memory"
                                    else execution.partition_rows,
                                    sample_rows=execution.sample_rows, seed=seed, models=models, progress=prog,
                                    digest=digest)
        t_sample = time.perf_counter() - t0
        check_population(population, inputs.first["counts"], inputs.source.location)
        audits = [_Audit(lp, options, inputs, m, seed, threads.predict, population) for m in models]
        t0 = time.perf_counter()
        task_s = _summary_pass(executor, inputs, audits, prog, threads.predict)
        timing = {"sample_pass_s": round(t_sample, 3), "summary_pass_s": round(time.perf_counter() - t0, 3),
                  "task_s": round(task_s, 3)}
        parallel = executor.workers if execution.executor == "local" else 1
        described = {**executor.describe(), "partitions": len(inputs.parts),
                     "partition_rows": None if execution.executor == "memory" else execution.partition_rows,
                     "rows": inputs.n_rows, "sample_rows": inputs.sample.n_rows,
                     "threads": threads.describe()}
        return [a.finish(described, timing, parallel, prog) for a in audits]
    finally:
        executor.close()
        for m in models:  # an isolated model's process ends with its audit
            if m.adapter is not None:
                m.adapter.close()


class _Audit:
    """One model's audit: its plan, context, summaries and result."""

    def __init__(self, lp: LoadedPolicy, options: RunOptions, inputs: AuditInputs, model: LoadedModel, seed: int,
                 threads: int | None = None, population=None):
        p = lp.policy
        self.lp, self.options, self.inputs, self.model = lp, options, inputs, model
        self.started, self.t0 = utc_now(), time.perf_counter()
        adapter = model.adapter
        has_proba = adapter is not None and adapter.has_proba
        facts = Facts(task=inputs.task, has_model=adapter is not None, has_proba=has_proba,
                      has_scores=has_proba or (adapter is None and inputs.columns.score is not None),
                      has_reference=inputs.sample.reference is not None, sensitive=tuple(inputs.columns.sensitive),
                      weighted=inputs.columns.weight is not None, missing_extras=missing_extras())
        self.plan: AuditPlan = build_plan(p, facts)
        settings = AuditSettings(seed=seed, confidence=p.defaults.confidence, n_boot=p.defaults.n_boot,
                                 min_group_size=p.defaults.min_group_size, task=inputs.task, pos_label=p.pos_label,
                                 population=population)
        named = {n: EvalSetSpec(name=n, kind=d.kind, severity=d.severity, params=dict(d.params))
                 for n, d in p.evalsets.items()}
        self.ctx = AuditContext(settings=settings, dataset=inputs.sample, model=adapter,
                                constraints=inputs.table.constraints, declared_constraints=dict(p.constraints),
                                evalset_specs=named, table=inputs.table, classes_=inputs.classes,
                                partitioned=self.plan.partitioned, threads=threads)
        self.passed = None

    def aux(self):
        """Reference-side summary inputs of this model (PSI edges, reference hashes, values)."""
        reqs = [r for rs in self.plan.requests.values() for r in rs]
        return self.ctx.aux(reqs)

    def attach(self, passed) -> None:
        """The merged summary pass of this model: summaries, and the sample's base predictions."""
        self.passed = passed
        self.ctx.passed = passed
        self.ctx.summaries = type(self.ctx.summaries)(self.ctx, passed, self.plan.partitioned)
        if passed.sample_preds is not None:
            labels, proba = passed.sample_preds
            classes = None if self.model.adapter is None else self.model.adapter.classes_
            if self.model.adapter is None:
                classes = self.inputs.classes
            self.ctx.set_predictions("base", Predictions(labels=labels, proba=proba, classes=classes,
                                                         stored=self.model.adapter is None))

    def finish(self, execution: dict, timing: dict, parallel: int, prog) -> AuditResult:
        p = self.lp.policy
        n, k = self.inputs.n_rows, self.inputs.sample.n_rows
        with prog(len(self.plan.checks), f"checks ({self.model.name})" if self.model.name else "checks") as adv:
            results = _run_checks(self.ctx, self.plan, p, n, k, parallel, adv)
        files = {**self.inputs.files, "model": model_manifest(self.model, p)}
        changed = None
        if self.options.baseline:
            from audit.compare import apply_baseline, changed_files, load_results

            baseline = load_results(self.options.baseline)
            results = apply_baseline(results, baseline, p)
            # Policy, model or data that differ from the baseline run's (by SHA-256), for the reviewer.
            changed = changed_files(baseline.manifest.get("files", {}), files)
        versions = library_versions()
        manifest = {
            "toolkit_version": versions.get("audit", "unknown"),
            "started_at": self.started,
            "finished_at": utc_now(),
            "wall_time_s": round(time.perf_counter() - self.t0, 3),
            "seed": self.ctx.seed,
            "task": self.ctx.task,
            "model_name": self.model.name,
            "policy": _policy_facts(self.lp),
            "pos_label": _jsonable(self.ctx.pos_label),
            "pos_label_rule": self.inputs.pos_label_rule or None,
            "inconclusive_fails": p.defaults.inconclusive_fails,
            "files": files,
            "baseline": self.options.baseline,
            "changed_since_baseline": changed,
            "libraries": versions,
            "hardware": hardware(),
            "timings": {**{kk: {a: round(b, 4) for a, b in v.items()} for kk, v in self.ctx.timings.items()},
                        "passes": {**timing, "predict_s": round(self.passed.predict_s, 3)}},
            "execution": {**execution, "threads": {**execution["threads"], "summary_pass": self.passed.threads},
                          "checks_on_all_rows": sum(self.plan.on_all_rows(c) for c in self.plan.checks
                                                                  if not (c.skip or c.error)),
                          "checks_on_sample": sum(c.rows for c in self.plan.checks if not (c.skip or c.error))},
        }
        result = AuditResult(policy_name=p.name, manifest=manifest, evalsets=_describe_sets(self, n, k),
                             results=results, summary=summarise(results, p.defaults.inconclusive_fails),
                             policy_text=self.lp.text)
        # The run digest (manifest.run_digest): what was found, from what; `audit verify` recomputes it.
        return with_digest(result)


def _summary_pass(executor, inputs: AuditInputs, audits: list[_Audit], prog, threads: int | None = None) -> float:
    """Pass 2 for every model at once: each partitioned set is built once per partition."""
    specs: dict = {"base": EvalSetSpec(name="base", kind="base")}
    requests: dict[str, set] = {}
    for a in audits:
        for name in sorted(a.plan.partitioned):
            specs.setdefault(name, a.plan.evalsets[name])
            requests.setdefault(name, set()).update(a.plan.requests.get(name, ()))
    cols = inputs.columns
    job = PartitionJob(features=cols.features, target=cols.target, sensitive=cols.sensitive,
                       prediction=cols.prediction, score=cols.score, task=inputs.task, classes=inputs.classes,
                       table=inputs.table, specs=specs,
                       requests={n: sorted(r, key=repr) for n, r in requests.items()},
                       aux=[a.aux() for a in audits], sample_rows=np.asarray(inputs.sample.rows, dtype=np.int64),
                       threads=threads, weight=cols.weight)
    label = "pass 2/2: predict + summarise"
    with prog(len(inputs.parts), label) as advance:
        merged, task_s = merge_summaries(executor.map(summary_task, inputs.source, inputs.parts, job,
                                                      [a.model.adapter for a in audits]),
                                         len(audits), lambda: advance("partitions", 1))
    for a, m in zip(audits, merged, strict=True):
        a.attach(m)
    return task_s


# -- checks ----------------------------------------------------------------------------------------

def _scope(plan: AuditPlan, pc: PlannedCheck, n: int, k: int) -> dict:
    if plan.on_all_rows(pc) or k >= n:
        return {"rows": n, "source": "all rows"}
    return {"rows": k, "source": f"stratified sample of {k:,} of {n:,} rows"}


def _run_one(ctx: AuditContext, plan: AuditPlan, pc: PlannedCheck, default_decision: str, n: int,
             k: int) -> CheckResult:
    if pc.entry.id in TIMING_CHECKS:
        default_decision = "interval"  # the precision rule (audit/checks/latency.py), unless the threshold says
    entry, spec = pc.entry, pc.spec
    params = pc.params.model_dump(mode="json") if pc.params is not None else dict(entry.params)
    base = dict(id=entry.id, name=entry.name or entry.id, family=spec.family, evalset=pc.evalset, params=params,
                threshold=entry.threshold.model_dump(mode="json"), blocking=entry.threshold.blocking,
                reference=entry.threshold.reference, direction=spec.direction, unit=spec.unit)
    if pc.error:
        return CheckResult(**base, verdict=Verdict.ERROR, message=pc.error,
                           error={"type": "PlanError", "message": pc.error, "traceback": ""})
    if pc.skip:
        return CheckResult(**base, verdict=Verdict.SKIPPED, message=pc.skip)
    t0 = time.perf_counter()
    try:
        m: Measurement = spec.func(ctx.for_check(entry.id, pc.evalset, pc.index, _check_key(entry, params)),
                                   pc.params)
    except CheckSkipped as exc:
        return CheckResult(**base, verdict=Verdict.SKIPPED, message=str(exc), duration_s=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - one crashing check must not crash the audit
        return CheckResult(**base, verdict=Verdict.ERROR, message=f"{type(exc).__name__}: {exc}",
                           duration_s=time.perf_counter() - t0,
                           error={"type": type(exc).__name__, "message": str(exc),
                                  "traceback": traceback.format_exc()})
    verdict, why = decide(m, entry.threshold, default_decision)
    scope = _scope(plan, pc, n, k)
    message = f"{m.message} — {why}" if m.message else why
    if scope["rows"] < n:
        message = f"[sample of {k:,} of {n:,} rows] {message}"
    return CheckResult(**base, verdict=verdict, value=m.value, interval=m.interval, n=m.n, groups=m.groups,
                       message=message, details={**m.details, "scope": scope},
                       duration_s=time.perf_counter() - t0)


def _check_key(entry, params: dict) -> str:
    # A check's identity in a policy (the loader refuses duplicates): its random streams follow it.
    import json

    return json.dumps([entry.name, params], sort_keys=True, default=str)


def _run_checks(ctx, plan: AuditPlan, p, n: int, k: int, parallel: int, advance) -> list[CheckResult]:
    """Every planned check, in policy order in the result.

    With ``parallel > 1`` checks run on threads: they share sets, predictions and fitted
    detectors through the context's lock-guarded caches and seed from their own ids, so
    the order in which threads finish changes nothing. Every check runs under the audit's
    thread limit (``ctx.threads``; one per check thread when they run in parallel), so the
    cores are not oversubscribed. Runtime-profile checks (``latency.*``) measure this
    machine's speed: the cold starts begin in child processes while the other checks run;
    the rest run afterwards, alone, at the process's own thread settings.
    """
    def one(pc: PlannedCheck, threads: int | None) -> CheckResult:
        advance(pc.entry.id, 0)
        with limited(threads):
            r = _run_one(ctx, plan, pc, p.defaults.decision, n, k)
        advance(pc.entry.id, 1)
        return r

    timed = [pc for pc in plan.checks if pc.entry.id.startswith("latency.")]
    free = [pc for pc in plan.checks if not pc.entry.id.startswith("latency.")]
    start_background(ctx, [(pc.entry.id, pc.params) for pc in timed if not (pc.skip or pc.error)])
    out: dict[int, CheckResult] = {}
    if parallel > 1:
        from concurrent.futures import ThreadPoolExecutor

        with parallel_section(1), ThreadPoolExecutor(parallel) as pool:
            for pc, r in zip(free, pool.map(lambda pc: one(pc, 1), free), strict=True):
                out[pc.index] = r
    else:
        for pc in free:
            out[pc.index] = one(pc, ctx.threads)
    wait_background(ctx)  # the cold-start children end before the profile times anything
    for pc in timed:
        out[pc.index] = one(pc, None)
    return [out[i] for i in range(len(plan.checks))]


def summarise(results: list[CheckResult], inconclusive_fails: bool = False) -> Summary:
    """Counts per verdict, the overall decision, the rule that decided it, and the exit code.

    The rules, in order (docs/results-schema.md, "Summary"):

    1. ``FAIL`` (exit 1) when a blocking check is FAIL or ERROR, or INCONCLUSIVE while the
       policy says ``inconclusive_fails``; ``reason`` counts each kind.
    2. ``PASS WITH WARNINGS`` (exit 0) when nothing blocking failed but a check is WARN, or a
       non-blocking check is FAIL or ERROR.
    3. ``PASS`` (exit 0) otherwise. INCONCLUSIVE and SKIPPED checks that do not gate leave the
       decision at PASS; ``headline`` says how many (``"PASS (3 INCONCLUSIVE)"``).
    """
    counts = {v.value: 0 for v in Verdict}
    for r in results:
        counts[r.verdict.value] += 1
    gating = {Verdict.FAIL, Verdict.ERROR} | ({Verdict.INCONCLUSIVE} if inconclusive_fails else set())
    failing = [r for r in results if r.blocking and r.verdict in gating]
    failures = [f"{r.name} [{r.evalset}]" for r in failing]

    def n_of(rs, verdict) -> int:
        return sum(r.verdict == verdict for r in rs)

    if failing:
        decision = "FAIL"
        parts = [_count(n_of(failing, Verdict.FAIL), "blocking check failed", "blocking checks failed"),
                 _count(n_of(failing, Verdict.ERROR), "blocking check raised an error",
                        "blocking checks raised an error")]
        k = n_of(failing, Verdict.INCONCLUSIVE)
        if k:
            parts.append(("a blocking check was" if k == 1 else f"{k} blocking checks were")
                         + " INCONCLUSIVE and the policy says inconclusive fails")
        reason = "; ".join(p for p in parts if p)
        headline = "FAIL"
    else:
        notes = {"WARN": counts["WARN"],
                 "non-blocking FAIL": sum(r.verdict == Verdict.FAIL for r in results),
                 "non-blocking ERROR": sum(r.verdict == Verdict.ERROR for r in results),
                 "INCONCLUSIVE": counts["INCONCLUSIVE"], "SKIPPED": counts["SKIPPED"]}
        warned = notes["WARN"] + notes["non-blocking FAIL"] + notes["non-blocking ERROR"]
        decision = "PASS WITH WARNINGS" if warned else "PASS"
        said = ", ".join(f"{v} {k}" for k, v in notes.items() if v)
        reason = "no blocking check failed" + (f"; {said}" if said else "")
        if notes["INCONCLUSIVE"] and not inconclusive_fails:
            reason += " (the policy does not make INCONCLUSIVE fail)"
        headline = f"{decision} ({said})" if said else decision
    return Summary(counts=counts, decision=decision, headline=headline, reason=reason,
                   exit_code=1 if failing else 0, blocking_failures=failures)


def _count(k: int, one: str, many: str) -> str:
    return "" if not k else (f"1 {one}" if k == 1 else f"{k} {many}")


def _describe_sets(audit: _Audit, n: int, k: int) -> dict:
    """Every evaluation set the checks read: partitioned ones over all rows, the rest on the sample."""
    passed, ctx = audit.passed, audit.ctx
    on_sample = "all rows" if k >= n else f"stratified sample of {k:,} of {n:,} rows"
    out = {"base": {"kind": "base", "params": {}, "seed": None, "rows": n, "built_on": "all rows",
                    "description": f"The held-out data as given ({_source_name(audit)})."}}
    for name, es in sorted(ctx.built_evalsets().items()):
        if name != "base":
            out[name] = {**es.describe(), "built_on": on_sample}
    for name, d in passed.describe.items():
        out[name] = {**d, "rows": int(passed.set_rows[name]), "built_on": "all rows"}
    return dict(sorted(out.items()))


def _source_name(audit: _Audit) -> str:
    loc = audit.inputs.files["data"]["path"]
    return loc if loc.startswith("<") else Path(loc).name


def _policy_facts(lp: LoadedPolicy) -> dict:
    """What the report shows of the policy itself: identity, scope, ownership, frameworks, and
    which file set each threshold (provenance, when the policy extends baselines)."""
    p = lp.policy
    facts = {"name": p.name, "description": p.description, "sha256": lp.sha256,
             "owner": p.owner, "approved_by": p.approved_by,
             "review_by": p.review_by.isoformat() if p.review_by else None,
             "review_overdue": bool(p.review_by and p.review_by < _today()),
             "frameworks": list(p.frameworks)}
    prov = getattr(lp, "provenance", None)
    if prov is not None and prov.inherited:
        facts["provenance"] = prov.to_json()
    return facts


def _today():
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


def _jsonable(v):
    return v.item() if hasattr(v, "item") else v

