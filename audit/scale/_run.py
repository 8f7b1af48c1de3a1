"""The streamed audit: plan, sample pass, summary pass, checks, result.

See :mod:`audit.scale` for the idea. The runner's own pieces (model loading,
check execution, verdicts, manifest) are reused; only where rows come from
differs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.checks import get_check
from audit.checks._registry import summary_requests
from audit.constraints import resolve_constraints
from audit.data.dataset import infer_feature_types
from audit.data.loading import dataset_from_frame
from audit.errors import DataError
from audit.evalsets._base import derive_seed, get_builder
from audit.results import CheckResult
from audit.runner import _progress
from audit.scale._evalsets import STREAMED_KINDS, TableStats, build_partition
from audit.scale._executors import make_executor
from audit.scale._partitions import Partition, open_source, partitions, read_partition
from audit.scale._state import StreamedState
from audit.scale._summaries import MISSING, CellTable, Request, merge
from audit.scale._tasks import Plan, SamplePlan, sample_task, summary_task

__all__ = ["run_streamed"]

FLOOR = 200  # rows every stratum contributes to the sample at least (or all of its rows)


def run_streamed(lp, options, execution) -> list:
    """Audit every model of a loaded policy by streaming its data in partitions.

    Parameters
    ----------
    lp : LoadedPolicy
    options : RunOptions
    execution : audit.policy.schema.Execution
        Executor, partition size, sample size.
    """
    from audit.runner import _model_loaders

    p = lp.policy
    data_loc = str(options.data) if options.data else str(lp.resolve(p.data.path))
    source = open_source(data_loc)
    columns = _columns(p, source)
    parts = partitions(source, execution.partition_rows)
    loaded = [(name, *(thunk() if thunk else (None, None))) for name, thunk in _model_loaders(lp, options)]
    executor = make_executor(execution.executor, execution.address, execution.workers, execution.memory_limit)
    try:
        t0 = time.perf_counter()
        head = read_partition(source, Partition(0, 0, min(source.n_rows, 2_000)), columns["all"])
        types = infer_feature_types(head[columns["features"]])
        seed = p.seed if options.seed is None else options.seed
        pass1 = _sample_pass(executor, source, parts, p, columns, types, seed, execution, options.progress)
        t_sample = time.perf_counter() - t0
        sample_ds, task = _sample_dataset(lp, options, p, columns, pass1)
        ref = sample_ds.reference
        # What every candidate model shares: constraints, whole-table statistics, file hashes.
        table = _Table(source, parts, columns, types, seed, pass1, sample_ds, task, t_sample,
                       constraints=resolve_constraints(_constraint_frame(sample_ds.X, pass1, types),
                                                       sample_ds.feature_types, dict(p.constraints),
                                                       ref.X if ref is not None else None),
                       stats=_table_stats(sample_ds.X, pass1, types, columns["target"]),
                       files=_files(lp, source, ref))
        return [_audit_model(lp, options, execution, executor, table, name, model, model_file)
                for name, model, model_file in loaded]
    finally:
        executor.close()


# -- columns and inputs -----------------------------------------------------------

def _columns(p, source) -> dict:
    cols = list(source.columns)
    d = p.data

    def need(names, what):
        missing = [c for c in names if c not in cols]
        if missing:
            shown = cols[:25] + (["..."] if len(cols) > 25 else [])
            raise DataError(f"{source.location}: {what} column(s) {missing} not found; the data has {shown}")

    need([d.target], "target")
    need(list(d.sensitive), "sensitive")
    extra = [c for c in (d.prediction, d.score) if c is not None]
    need(extra, "prediction/score")
    if d.features is not None:
        need(list(d.features), "feature")
        features = list(d.features)
    else:
        drop = {d.target, *extra} | (set() if d.sensitive_features else set(d.sensitive))
        features = [c for c in cols if c not in drop]
    every = list(dict.fromkeys([*features, d.target, *d.sensitive, *extra]))
    return {"features": features, "target": d.target, "sensitive": list(d.sensitive),
            "prediction": d.prediction, "score": d.score, "all": every}


def _sample_pass(executor, source, parts, p, columns, types, seed, execution, progress) -> dict:
    n = source.n_rows
    k = min(execution.sample_rows, n)
    counted = list(dict.fromkeys([*columns["sensitive"], columns["target"],
                                  *[c for c, t in types.items() if t == "categorical"]]))
    numeric = [c for c, t in types.items() if t != "categorical"]
    threshold = 1.0 if k >= n else min(1.0, 1.5 * k / n)
    for _ in range(6):
        sp = SamplePlan(columns["all"], columns["target"], columns["sensitive"], counted, numeric, seed,
                        threshold, FLOOR)
        merged = _merge_pass1(executor.map(sample_task, source, parts, sp), sp, len(parts),
                              progress, "pass 1/2: sample")
        sample = _select(merged, k, n, threshold)
        if sample is not None:
            merged["sample"] = sample
            merged["threshold"] = threshold
            return merged
        threshold = min(1.0, threshold * 2)  # a stratum fell short of its allocation: widen, reread
    raise RuntimeError("could not draw the stratified sample")  # unreachable: threshold reaches 1


def _merge_pass1(results, sp, total, progress, label) -> dict:
    cand, strata, counts, extremes, rows = None, CellTable(), {}, {}, 0
    cut = np.uint64(min(int(sp.threshold * 2.0 ** 64), 2 ** 64 - 1))
    with _progress(progress, total, title=label) as advance:
        for r in results:
            rows += r["rows"]
            strata = strata + r["strata"]
            for c, vc in r["counts"].items():
                if c in counts and counts[c] is None or vc is None:
                    counts[c] = None
                else:
                    acc = counts.setdefault(c, {})
                    for v, m in vc.items():
                        acc[v] = acc.get(v, 0) + m
            for c, (lo, hi) in r["extremes"].items():
                a, b = extremes.get(c, (np.inf, -np.inf))
                extremes[c] = (min(a, lo), max(b, hi))
            cand = _trim(r["candidates"] if cand is None else pd.concat([cand, r["candidates"]]), cut, sp.floor)
            advance("partitions", 1)
    return {"rows": rows, "candidates": cand, "strata": strata, "counts": counts, "extremes": extremes}


def _trim(cand: pd.DataFrame, cut, floor: int) -> pd.DataFrame:
    # Keep what the final selection may need: keys under the threshold, and each stratum's
    # `floor` smallest keys (the running merge stays bounded whatever the number of partitions).
    rank = cand.groupby("__stratum", sort=False)["__key"].rank(method="first")
    return cand[(cand["__key"].to_numpy() < cut) | (rank.to_numpy() <= floor)]


def _select(merged, k: int, n: int, threshold: float) -> pd.DataFrame | None:
    """The stratified sample: in each stratum the n_h smallest keys, n_h proportional (floor FLOOR).

    Returns None when a stratum has fewer candidates under the threshold than it needs
    (its allocation would then depend on which partitions sent floor rows): the caller
    widens the threshold and reads again.
    """
    cand = merged["candidates"].sort_values("__key", kind="stable")
    want = {key: min(int(size[0]), max(FLOOR, int(round(k * int(size[0]) / n))))
            for key, size in merged["strata"].items()}
    cut = np.uint64(min(int(threshold * 2.0 ** 64), 2 ** 64 - 1))
    strata = cand["__stratum"]
    under = (cand["__key"].to_numpy() < cut)
    n_under = pd.Series(under).groupby(strata.to_numpy(), sort=False).sum()
    if threshold < 1.0 and any(w > FLOOR and n_under.get(key, 0) < w for key, w in want.items()):
        return None
    rank = cand.groupby("__stratum", sort=False).cumcount().to_numpy()
    limit = strata.map(want).to_numpy()
    out = cand[rank < limit].sort_index()
    return out.drop(columns=["__key", "__stratum"])


def _sample_dataset(lp, options, p, columns, pass1):
    ref_path = Path(options.reference) if options.reference else lp.resolve(p.data.reference)
    ds, task = dataset_from_frame(pass1["sample"], lp.resolve(p.data.path) if not options.data else options.data,
                                  target=columns["target"], sensitive=columns["sensitive"],
                                  features=columns["features"], prediction=columns["prediction"],
                                  score=columns["score"], reference=ref_path, task=p.task)
    return ds, task


def _constraint_frame(sample_X: pd.DataFrame, pass1, types) -> pd.DataFrame:
    # resolve_constraints reads observed ranges and vocabularies from a frame; give it the
    # sample plus the exact extremes and category lists of the whole table.
    extra = {}
    width = 2
    for c, vc in pass1["counts"].items():
        if c in sample_X.columns and types.get(c) == "categorical" and vc:
            width = max(width, len([v for v in vc if v != MISSING]))
    for c in sample_X.columns:
        if types.get(c) == "categorical":
            vc = pass1["counts"].get(c)
            vals = [v for v in (vc or {}) if v != MISSING] or list(sample_X[c].dropna().unique()[:1])
            vals = _typed(vals, sample_X[c])
            extra[c] = (vals * width)[:width] if vals else [None] * width
        else:
            lo, hi = pass1["extremes"].get(c, (np.nan, np.nan))
            extra[c] = [lo, hi] + [hi] * (width - 2)
    frame = pd.DataFrame(extra)
    for c in sample_X.columns:
        try:
            frame[c] = frame[c].astype(sample_X[c].dtype)
        except (TypeError, ValueError):
            pass
    return pd.concat([sample_X, frame], ignore_index=True)


def _typed(values: list[str], like: pd.Series) -> list:
    # Value counts are keyed by str(value); map back to the column's values where possible.
    seen = {str(v): v for v in like.dropna().unique()}
    out = []
    for v in values:
        if v in seen:
            out.append(seen[v])
        elif pd.api.types.is_bool_dtype(like.dtype):
            out.append(v == "True")
        elif pd.api.types.is_numeric_dtype(like.dtype):
            out.append(pd.to_numeric(v, errors="coerce"))
        else:
            out.append(v)
    return sorted(out, key=str)


def _table_stats(sample_X: pd.DataFrame, pass1, types, target) -> TableStats:
    from audit.evalsets import _tabular as T

    st = TableStats(n=int(pass1["rows"]))
    for c in sample_X.columns:
        if types.get(c) == "categorical":
            vc = pass1["counts"].get(c)
            vals = [v for v in (vc or {}) if v != MISSING]
            st.vocab[c] = _typed(vals, sample_X[c]) if vc else sorted(pd.unique(sample_X[c].dropna()).tolist(), key=str)
            if vc:
                best = max(sorted(vals), key=lambda v: vc[v]) if vals else None
                st.mode[c] = _typed([best], sample_X[c])[0] if best is not None else None
            else:
                st.mode[c] = sample_X[c].mode(dropna=True).iloc[0]
        else:
            v = pd.to_numeric(sample_X[c], errors="coerce").to_numpy(dtype=float)
            st.spread[c] = T.spread(sample_X[c])
            st.mean[c] = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0
            st.median[c] = float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0
            st.sample_values[c] = np.sort(v[np.isfinite(v)])
    st.value_counts = {c: vc for c, vc in pass1["counts"].items() if vc is not None}
    st.label_counts = pass1["counts"].get(target) or {}
    return st


# -- one model ------------------------------------------------------------------------

@dataclass
class _Table:
    """The streamed table and what the sample pass learnt of it (shared by every model)."""

    source: object
    parts: list
    columns: dict
    types: dict
    seed: int
    pass1: dict
    sample_ds: object
    task: str
    t_sample: float
    constraints: dict
    stats: TableStats
    files: dict


def _audit_model(lp, options, execution, executor, table: _Table, name, model, model_file):
    from audit.runner import _audit_one, _context, _Inputs, _run_one

    p = lp.policy
    source, parts, columns, pass1, sample_ds = table.source, table.parts, table.columns, table.pass1, table.sample_ds
    inputs = _Inputs(sample_ds, table.task, table.files, table.constraints)
    ctx = _context(lp, options, inputs, model)
    plan = _plan(ctx, p, columns, table.types, table.stats, table.seed, table.constraints)
    covered, requests = _requests(ctx, p, plan, sample_ds)
    plan.requests = {name_: sorted(reqs, key=repr) for name_, reqs in requests.items()}
    _reference_inputs(ctx, plan, requests, sample_ds)
    t0 = time.perf_counter()
    merged, info = _summary_pass(executor, source, parts, plan, model, options.progress, name)
    t_summary = time.perf_counter() - t0
    state = StreamedState(summaries=merged, classes=plan.classes, pos_label=plan.pos_label,
                          sensitive=columns["sensitive"],
                          all_columns=[*columns["features"],
                                       *[c for c in columns["sensitive"] if c not in columns["features"]]],
                          rows_by_set={k[1]: int(v) for k, v in merged.items() if isinstance(k, tuple)
                                       and k[0] == "rows"},
                          covered=covered)
    ctx.streamed = state
    n, k_s = int(pass1["rows"]), sample_ds.n_rows

    def run_check(ctx_, i, entry, default_decision) -> CheckResult:
        r = _run_one(ctx_, i, entry, default_decision)
        if i in covered:
            r.details = {**r.details, "scope": {"rows": n, "source": "all rows, streamed"}}
        elif r.verdict.value not in ("SKIPPED",):
            r.details = {**r.details, "scope": {"rows": k_s, "source": f"stratified sample of {k_s:,} of {n:,} rows"}}
            r.message = f"[sample of {k_s:,} of {n:,} rows] {r.message}"
        return r

    evalsets = _describe_sets(ctx, merged, n)
    manifest = {
        "execution": {**executor.describe(), "partitions": len(parts), "partition_rows": execution.partition_rows,
                      "rows": n, "sample_rows": k_s, "streamed_checks": len(covered),
                      "sample_checks": len(p.checks) - len(covered)},
        "streaming": {"sample_pass_s": round(table.t_sample, 3), "summary_pass_s": round(t_summary, 3),
                      "predict_s": round(info["predict_s"], 3), "task_s": round(info["task_s"], 3),
                      "rows_per_s": round(n / max(t_summary, 1e-9), 1)},
    }
    # Locally, the checks that follow the passes run in parallel on the cores too.
    parallel = executor.workers if execution.executor == "local" else 1
    return _audit_one(lp, options, ctx, inputs, name, model, model_file, run_check=run_check,
                      evalsets=evalsets, extra_manifest=manifest, parallel=parallel)


def _files(lp, source, ref) -> dict:
    from audit.data.loading import table_sha256
    from audit.models.loading import file_sha256

    files = {"policy": {"path": str(lp.path), "sha256": lp.sha256},
             "data": {"path": source.location, "sha256": table_sha256(source.location), "rows": source.n_rows,
                      "files": len(source.pieces)}}
    if ref is not None:
        files["reference"] = {"path": str(ref.source), "sha256": file_sha256(Path(ref.source)), "rows": ref.n_rows}
    return files


def _plan(ctx, p, columns, types, stats, seed, constraints) -> Plan:
    classes = np.asarray(ctx.classes) if ctx.classes is not None else np.asarray([])
    if ctx.model is None and len(classes):
        seen = set(stats.label_counts) | set(stats.value_counts.get(columns["prediction"] or "", {}))
        extra = sorted(v for v in seen if v not in {str(c) for c in classes})
        if extra:
            classes = np.asarray(sorted([*classes.tolist(), *_typed(extra, pd.Series(classes))], key=str))
    specs = {}
    for name in _all_evalset_names(ctx, p):
        specs[name] = ctx.resolve(name)
    return Plan(features=columns["features"], target=columns["target"], sensitive=columns["sensitive"],
                prediction=columns["prediction"], score=columns["score"], task=ctx.task, classes=classes,
                pos_label=ctx.pos_label, seed=seed, feature_types=dict(types), constraints=constraints,
                declared_constraints=dict(p.constraints), specs=specs,
                evalset_seeds={n: derive_seed(seed, "evalset", n) for n in specs}, stats=stats, requests={})


def _all_evalset_names(ctx, p) -> set[str]:
    names = set(p.evalsets)
    for entry in p.checks:
        spec = get_check(entry.id)
        names.add(entry.evalset or spec.default_evalset)
        sev = entry.params.get("severities") if isinstance(entry.params, dict) else None
        if sev:
            kind = entry.params.get("kind") or ctx.resolve(entry.evalset or spec.default_evalset).kind
            names.update(f"{kind}@{float(s):g}" for s in sev)
    names.discard("base")
    out = set()
    for n in names:
        try:
            ctx.resolve(n)
            out.add(n)
        except ValueError:
            pass
    return out


def _streamable(ctx, plan, name: str, sample_ds, cache: dict) -> bool:
    if name == "base":
        return True
    if name in cache:
        return cache[name]
    ok = False
    spec = plan.specs.get(name)
    if spec is not None and spec.kind in STREAMED_KINDS and ctx.model is not None:
        # A trial build on a few sample rows: parameters a builder rejects, or a kind it
        # cannot stream (MNAR), leave the set to the sample.
        from audit.evalsets._base import EvaluationSet

        head = sample_ds.X.iloc[:50].reset_index(drop=True)
        trial = EvaluationSet(name="base", kind="base", X=head, y=np.asarray(sample_ds.y)[:50],
                              sensitive=sample_ds.sensitive.iloc[:50].reset_index(drop=True),
                              source_index=np.arange(len(head)))
        try:
            get_builder(spec.kind).params.model_validate(spec.params)
            build_partition(plan, name, trial)
            ok = True
        except Exception:  # noqa: BLE001 - any failure means: build it on the sample instead
            ok = False
    cache[name] = ok
    return ok


def _requests(ctx, p, plan, sample_ds):
    from audit.runner import _skip_reason

    covered, requests, cache = set(), defaultdict(set), {}
    requests["base"] = set()
    for i, entry in enumerate(p.checks):
        spec = get_check(entry.id)
        fn = summary_requests(entry.id)
        if fn is None or _skip_reason(spec, ctx):
            continue
        evalset = entry.evalset or spec.default_evalset
        try:
            params = spec.params.model_validate(entry.params)
            reqs = [Request(kind, es, arg) for kind, es, arg in fn(evalset, params, ctx)]
        except Exception:  # noqa: BLE001 - NotStreamed, or bad params the check will report on the sample
            continue
        if reqs and all(_streamable(ctx, plan, r.evalset, sample_ds, cache) for r in reqs):
            covered.add(i)
            for r in reqs:
                requests[r.evalset].add(r)
    return covered, requests


def _reference_inputs(ctx, plan, requests, sample_ds) -> None:
    """Reference-side inputs computed once on this machine: PSI edges, reference row hashes."""
    all_reqs = [r for rs in requests.values() for r in rs]
    psi_bins = {r.arg for r in all_reqs if r.kind == "psi"}
    if psi_bins:
        from audit.checks.shift import _scores, psi_edges

        ref = _scores(ctx.predictions("reference"), ctx.task)
        plan.psi_edges = {b: psi_edges(ref, b) for b in psi_bins}
    if any(r.kind == "sketch" for r in all_reqs):
        ref = sample_ds.reference
        for c in sample_ds.X.columns:
            if c not in ref.X.columns:
                continue
            if sample_ds.feature_types.get(c) == "categorical":
                plan.ref_unique[c] = None
            else:
                v = ref.X[c].to_numpy(dtype=float)
                plan.ref_unique[c] = np.unique(v[~np.isnan(v)])
    dups = {bool(r.arg) for r in all_reqs if r.kind == "dups"}
    if dups:
        from audit.checks.data import row_hashes

        ref = sample_ds.reference
        cols = [c for c in sample_ds.X.columns if c in ref.X.columns]
        plan.ref_columns = cols
        for with_target in dups:
            b = ref.X[cols]
            if with_target:
                b = b.assign(__y=np.asarray(ref.y))
            like = sample_ds.X[cols].assign(__y=np.asarray(sample_ds.y)) if with_target else sample_ds.X[cols]
            b = b.astype(like.dtypes.to_dict(), errors="ignore")
            plan.ref_hashes[with_target] = np.unique(row_hashes(b))


def _summary_pass(executor, source, parts, plan, model, progress, name):
    merged: dict = {}
    info = {"predict_s": 0.0, "task_s": 0.0}
    label = "pass 2/2: predict + summarise" + (f" ({name})" if name else "")
    with _progress(progress, len(parts), title=label) as advance:
        for r in executor.map(summary_task, source, parts, plan, model):
            for key, v in r["summaries"].items():
                if isinstance(key, tuple) and key[0] == "describe":
                    merged.setdefault(key, v)
                else:
                    merged[key] = merge(merged.get(key), v)
            info["predict_s"] += r["predict_s"]
            info["task_s"] += r["task_s"]
            advance("partitions", 1)
    return merged, info


def _describe_sets(ctx, merged, n) -> dict:
    out = {}
    for name, es in sorted(ctx.built_evalsets().items()):
        d = es.describe()
        d["built_on"] = "sample"
        out[name] = d
    out["base"] = {"kind": "base", "params": {}, "seed": None, "rows": n, "built_on": "all rows",
                   "description": "The held-out data as given, streamed in partitions."}
    for key, d in merged.items():
        if isinstance(key, tuple) and key[0] == "describe":
            name = key[1]
            out[name] = {**d, "rows": int(merged[("rows", name)]), "built_on": "all rows"}
    return dict(sorted(out.items()))
