"""Runtime performance checks: latency percentiles, throughput, memory, size, cold start.

Every check here needs a live model (SKIPPED in predictions-only audits). The
timing checks share one :class:`~audit.profiling.RuntimeProfile` per audit
and settings (see :func:`audit.profiling.get_profile`): leave the profiling
parameters at their defaults and a policy with five latency checks profiles
the model once, within ``budget_s`` (1 s) of calls, at the thread settings the
process is configured with (recorded and stated in the message). The cold start
(2 s budget) runs in child processes begun while the other checks run. Values
are plain numbers in the unit the id names (ms, rows/s, MB = 2**20 bytes, s).

**The precision rule.** Timings vary from run to run by nature (they are the only
numbers in ``results.json`` that do), so a verdict drawn from one must rest on a
precise enough measurement. A timing check (:data:`TIMING_CHECKS`) is INCONCLUSIVE when

1. too few calls were timed for its percentile to exist at all (p99: 100 calls);
2. its interval lacks a side: the order-statistic interval of a percentile needs
   :func:`two_sided_calls` timed calls for both ends (p99: 368, p95: 72, p50: 6 at
   95 %); throughput needs two calls; the cold start one run;
3. its interval spans more than ``max_relative_width`` (default 0.5) times the value;

and otherwise the runner decides it on its interval (``decision: interval``) unless the
threshold names a decision: an interval that straddles a bound is INCONCLUSIVE, so
load on the machine moves a verdict to INCONCLUSIVE before it can flip it.

**The budget.** ``budget_s`` caps the profile's wall time (see
:func:`audit.profiling.profile_model`): a batch size it did not reach has no timings, and
memory calls it did not reach are not measured. A percentile or throughput check at such a
batch size, and a memory check whose measure is missing, is INCONCLUSIVE with a message naming
the batch size and the budget (``RuntimeProfile.not_timed_reason``,
``RuntimeProfile.memory_missing_reason``). The profile's table lists every batch size asked for,
those not timed with a ``note`` saying so; its charts show the timed ones.
"""

from __future__ import annotations

import math
import subprocess
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.checks._registry import register_check
from audit.errors import CheckError, CheckSkipped
from audit.profiling import (
    ProfileParams,
    RuntimeProfile,
    environment,
    get_cold_start,
    get_model_size,
    get_profile,
    min_repeats_for,
    order_statistic_interval,
    start_cold_start,
)
from audit.results import Interval, Measurement
from audit.stats import percentile_interval

MB = float(2**20)
_BOOT_CHUNK = 200  # bootstrap replicates per block: bounds memory when thousands of calls were timed

# The checks whose values are timings of this machine. Their verdicts follow the precision rule
# (module docstring); the runner decides them on their interval unless the policy's threshold
# names a decision, and runs them after the other checks, alone.
TIMING_CHECKS = frozenset({"latency.p50_ms", "latency.p95_ms", "latency.p99_ms",
                           "latency.throughput_rows_per_s", "latency.cold_start_s"})
PRECISION_RULE = (
    "A timing is decided on its interval: INCONCLUSIVE when the interval lacks a side (too few "
    "timed calls to bound it) or spans more than max_relative_width (default 0.5) times the value, "
    "and, unless the threshold sets `decision`, when it straddles a bound.")


class _Precision(BaseModel):
    """The precision rule's parameter (shared by every timing check)."""

    model_config = ConfigDict(extra="forbid")
    max_relative_width: float = Field(
        0.5, gt=0, le=100,
        description="Widest interval, as a multiple of the value, for which the timing is precise "
                    "enough to decide on; wider: INCONCLUSIVE.")


class LatencyParams(ProfileParams, _Precision):
    """Profiling settings plus the batch size whose latency percentile is the value."""

    batch_size: int = Field(1, ge=1)


class ThroughputParams(ProfileParams, _Precision):
    """Profiling settings plus the batch size whose throughput is the value."""

    batch_size: int = Field(1024, ge=1)


class MemoryParams(ProfileParams):
    """Profiling settings, the batch size (default: the largest profiled) and the memory measure."""

    batch_size: int | None = Field(None, ge=1)
    source: Literal["max", "tracemalloc", "rss"] = "max"


class SizeParams(BaseModel):
    """Which size: the pickled estimator (``pickled``, always there) or the model file (``disk``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["pickled", "disk"] = "pickled"


class ColdStartParams(_Precision):
    """Function predicted first, how long one fresh process may take, and the time budget.

    Cold starts are repeated while one more fits in ``budget_s`` of wall time (at least one
    run); by default the latency profile (1 s) and the cold start (2 s) share 3 s. The runs
    overlap with the other checks (child processes), so they add little to the audit's wall time.
    """

    method: Literal["auto", "predict_proba", "predict"] = "auto"
    timeout_s: float = Field(120.0, gt=0, le=3600)
    budget_s: float = Field(2.0, gt=0, le=3600)


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _profile_settings(params: ProfileParams) -> ProfileParams:
    return ProfileParams.model_validate(params.model_dump(include=set(ProfileParams.model_fields)))


def _profile(ctx, params, batch_size: int | None) -> RuntimeProfile:
    return get_profile(ctx, _profile_settings(params), batch_size)


# -- details -------------------------------------------------------------------------------------
def _throughput_interval(ctx, bp, level: float) -> tuple[float | None, float | None]:
    """Percentile bootstrap of the mean latency (seeded), turned into rows/s."""
    t = bp.timings_ms
    if t.size < 2:
        return None, None
    rng = ctx.rng("throughput", bp.batch_size)
    n_boot = ctx.settings.n_boot
    means = np.concatenate([t[rng.integers(0, t.size, size=(min(_BOOT_CHUNK, n_boot - i), t.size))].mean(axis=1)
                            for i in range(0, n_boot, _BOOT_CHUNK)])
    lo, hi = percentile_interval(means, level)
    return bp.batch_size / (hi / 1e3), bp.batch_size / (lo / 1e3)


def _environment_table(env: dict) -> dict:
    pools = "; ".join(f"{p.get('internal_api')} ({p.get('user_api')}): {p.get('num_threads')} threads"
                      for p in env.get("threadpools", [])) or "none found"
    libs = env.get("libraries", {})
    keep = ("python", "numpy", "scipy", "pandas", "scikit-learn", "skops", "torch")
    lib = env.get("model_library") or {}
    rows = [
        ["CPU", str(env.get("cpu"))],
        ["cores (usable)", f"{env.get('cores')} ({env.get('usable_cores')})"],
        ["memory (GB)", _num(env.get("memory_gb"))],
        ["OS", str(env.get("os"))],
        ["thread pools", pools],
        ["thread env vars", ", ".join(f"{k}={v}" for k, v in (env.get("thread_env") or {}).items()) or "unset"],
        ["load average 1/5/15 min (before; after)",
         f"{env.get('load_average')}; {env.get('load_average_after', 'n/a')}"],
        ["timer", f"{env['timer']['name']} ({env['timer']['implementation']}, "
                  f"resolution {env['timer']['resolution_s']:.0e} s)" if "timer" in env else "n/a"],
        ["model library", f"{lib.get('package')} {lib.get('version')}" if lib else "n/a"],
        ["libraries", ", ".join(f"{k} {libs[k]}" for k in keep if k in libs)],
    ]
    return {"title": "Measured on", "columns": ["item", "value"], "rows": rows}


def _row_note(bp) -> str:
    """What the time budget left out at one batch size ("" when nothing)."""
    missing = ["not timed"] if bp.skipped else []
    if bp.memory is None:
        missing.append("memory not measured")
    elif not bp.memory.rss_measured:
        missing.append("RSS not measured")
    return f"{', '.join(missing)} (budget_s spent)" if missing else ""


def _batch_table(profile: RuntimeProfile) -> dict:
    """Every batch size asked for; those the budget did not reach have 0 timed calls and a note."""
    rows, flags = [], []
    notes = [_row_note(bp) for bp in profile.batches.values()]
    noted = any(notes)  # the note column only when something was left out
    for i, (size, bp) in enumerate(profile.batches.items()):
        mem = bp.memory
        stats = [None] * 9 if bp.skipped else [
            _num(bp.mean_ms), _num(bp.std_ms), _num(bp.cv), _num(bp.min_ms),
            _num(bp.percentile_ms(50)), _num(bp.percentile_ms(95)), _num(bp.percentile_ms(99)),
            _num(bp.max_ms), _num(bp.throughput_rows_per_s)]
        rows.append([
            size, *([notes[i]] if noted else []), bp.repeats, bp.warmup, *stats,
            _num(mem.tracemalloc_bytes / MB) if mem else None,
            _num(mem.rss_delta_bytes / MB) if mem and mem.rss_delta_bytes is not None else None,
        ])
        if bp.noisy:
            flags.append(i)
    return {"title": f"Latency per batch size ({profile.method}, rows from '{profile.evalset}')",
            "columns": ["batch size", *(["note"] if noted else []), "timed calls", "warm-up", "mean ms",
                        "std ms", "CV", "min ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "throughput rows/s",
                        "peak tracemalloc MB", "peak RSS increase MB"],
            "rows": rows, "flag_rows": flags}


def _charts(ctx, profile: RuntimeProfile) -> list[dict]:
    """Box and throughput charts of the timed batch sizes (one not timed has nothing to draw)."""
    timed = profile.timed_batches
    series = []
    for size, bp in timed.items():
        q = [_num(v) for v in np.percentile(bp.timings_ms, [0, 25, 50, 75, 100])]
        series.append({"name": f"batch {size}", "q": q,
                       "extra": {"p95": _num(bp.percentile_ms(95)), "p99": _num(bp.percentile_ms(99))}})
    level = ctx.settings.confidence
    tput = [(bp.throughput_rows_per_s, *_throughput_interval(ctx, bp, level)) for bp in timed.values()]
    return [
        {"kind": "box", "title": "Latency per call by batch size", "ylabel": "ms", "series": series},
        {"kind": "curve", "xscale": "log", "title": "Throughput against batch size", "x": [float(b) for b in timed],
         "xlabel": "batch size (rows per call)", "ylabel": "rows/s",
         "series": [{"name": "throughput", "y": [_num(v) for v, _, _ in tput],
                     "low": [_num(lo) for _, lo, _ in tput], "high": [_num(hi) for _, _, hi in tput]}],
         "threshold": {"min": None, "max": None}},
    ]


def _details(ctx, profile: RuntimeProfile) -> dict:
    return {"tables": [_batch_table(profile), _environment_table(profile.environment)],
            "charts": _charts(ctx, profile), "notes": profile.notes}


def _with_notes(msg: str, profile: RuntimeProfile) -> str:
    return msg + ("; " + "; ".join(profile.notes) if profile.notes else "")


def _not_measured(ctx, profile: RuntimeProfile, what: str, why: str) -> Measurement:
    """INCONCLUSIVE, no value: the time budget ended before ``what`` was measured (``why`` says so)."""
    return Measurement(value=None, n=0, inconclusive=why, message=f"{what}: not measured",
                       details=_details(ctx, profile))


def threads_text(threads: dict | None) -> str:
    """``"1 OpenMP and 1 BLAS thread(s), as configured (OMP_NUM_THREADS=1)"``."""
    if not threads:
        return "threads not recorded"
    parts = [f"{threads[k]} {name}" for k, name in (("openmp", "OpenMP"), ("blas", "BLAS"), ("torch", "torch"))
             if threads.get(k) is not None]
    env = ", ".join(f"{k}={v}" for k, v in (threads.get("env") or {}).items())
    return (f"{' and '.join(parts) or 'no native'} thread(s), as this process is configured"
            + (f" ({env})" if env else ""))


def two_sided_calls(q: float, level: float) -> int:
    """Fewest timed calls whose order-statistic interval of the ``q``-quantile has both ends.

    Its lower end exists once ``(1-q)^n <= a`` and its upper end once ``q^n <= a``, with
    ``a = (1 - level) / 2`` (p99 at 95 %: 368 calls; p95: 72; p50: 6).
    """
    a = (1.0 - level) / 2.0
    return max(math.ceil(math.log(a) / math.log(q) - 1e-9), math.ceil(math.log(a) / math.log(1.0 - q) - 1e-9))


def imprecise(value: float | None, low: float | None, high: float | None, max_relative_width: float,
              missing: str) -> str | None:
    """The precision rule: a reason to be INCONCLUSIVE, or None when the timing is precise enough.

    Parameters
    ----------
    value, low, high : float or None
        The timing and its interval.
    max_relative_width : float
        Widest ``(high - low) / value`` accepted.
    missing : str
        Why a side of the interval can be missing (what would give it one).
    """
    if value is None or not math.isfinite(value):
        return None  # undefined values are INCONCLUSIVE anyway
    if low is None or high is None:
        return f"not precise enough to decide on: the interval has no {'upper' if high is None else 'lower'} end ({missing})"
    width = (high - low) / value if value > 0 else math.inf
    if width > max_relative_width:
        return (f"not precise enough to decide on: the interval [{low:.3g}, {high:.3g}] spans {width:.0%} of the "
                f"value, more than max_relative_width={max_relative_width:g} (a quieter machine or a larger "
                "budget_s narrows it)")
    return None


# -- latency percentiles -------------------------------------------------------------------------
def _percentile_check(ctx, params: LatencyParams, pct: int) -> Measurement:
    profile = _profile(ctx, params, params.batch_size)
    bp = profile.batch(params.batch_size)
    if bp.skipped:
        return _not_measured(ctx, profile, f"p{pct} latency at batch size {params.batch_size}",
                             profile.not_timed_reason(params.batch_size))
    q = pct / 100.0
    level = ctx.settings.confidence
    low, high, _, _ = order_statistic_interval(bp.timings_ms, q, level)
    need = min_repeats_for(q)
    value = bp.percentile_ms(pct)
    msg = (f"p{pct} latency at batch size {params.batch_size}: {value:.3g} ms over "
           f"{bp.repeats} timed calls after {bp.warmup} warm-up calls ({profile.method}; "
           f"{threads_text(profile.environment.get('threads'))})")
    if bp.repeats < need:
        why = f"only {bp.repeats} timed calls; p{pct} needs at least {need} (raise repeats or budget_s)"
    else:
        limit = ("fit in budget_s", "budget_s") if bp.stopped_by_budget else (
            f"were allowed by repeats={bp.repeats_requested}", "repeats")
        why = imprecise(value, low, high, params.max_relative_width,
                        f"{bp.repeats} timed calls {limit[0]}; a two-sided {level:.0%} interval of p{pct} "
                        f"needs {two_sided_calls(q, level)}: raise {limit[1]}")
    return Measurement(
        value=value,
        interval=Interval(low=low, high=high, level=level, method="order-statistic"),
        n=bp.repeats,
        inconclusive=why,
        message=_with_notes(msg, profile),
        details=_details(ctx, profile),
    )


def _register_percentile(pct: int) -> None:
    def check(ctx, params: LatencyParams) -> Measurement:
        return _percentile_check(ctx, params, pct)

    check.__doc__ = f"""p{pct} latency of one prediction call, in ms, at a batch size (default 1).

    Value: numpy's {pct}th percentile of the timed calls; interval: distribution-free
    order-statistic (binomial) interval; n: timed calls.
    """
    check.__name__ = f"latency_p{pct}_ms"
    register_check(f"latency.p{pct}_ms", params=LatencyParams, needs={"model"},
                   higher_is_better=False)(check)


for _pct in (50, 95, 99):
    _register_percentile(_pct)


# -- throughput ----------------------------------------------------------------------------------
@register_check("latency.throughput_rows_per_s", params=ThroughputParams, needs={"model"}, higher_is_better=True)
def throughput(ctx, params: ThroughputParams) -> Measurement:
    """Rows predicted per second at a batch size (default 1024): batch size / mean latency.

    Interval: seeded percentile bootstrap of the mean latency; n: timed calls.
    """
    profile = _profile(ctx, params, params.batch_size)
    bp = profile.batch(params.batch_size)
    if bp.skipped:
        return _not_measured(ctx, profile, f"throughput at batch size {params.batch_size}",
                             profile.not_timed_reason(params.batch_size))
    level = ctx.settings.confidence
    lo, hi = _throughput_interval(ctx, bp, level)
    msg = (f"throughput at batch size {params.batch_size}: {bp.throughput_rows_per_s:,.0f} rows/s "
           f"(mean {bp.mean_ms:.3g} ms per call over {bp.repeats} timed calls; "
           f"{threads_text(profile.environment.get('threads'))})")
    why = imprecise(bp.throughput_rows_per_s, lo, hi, params.max_relative_width,
                    "fewer than 2 timed calls fit in the budget: raise budget_s")
    return Measurement(value=bp.throughput_rows_per_s,
                       interval=Interval(low=lo, high=hi, level=level, method="bootstrap-mean-latency"),
                       n=bp.repeats, inconclusive=why, message=_with_notes(msg, profile),
                       details=_details(ctx, profile))


# -- memory --------------------------------------------------------------------------------------
@register_check("latency.peak_memory_mb", params=MemoryParams, needs={"model"}, higher_is_better=False)
def peak_memory(ctx, params: MemoryParams) -> Measurement:
    """Peak extra memory of one prediction call, in MB, at a batch size (default the largest profiled).

    ``source``: ``tracemalloc`` (Python and numpy allocations), ``rss`` (resident
    set increase, catches native allocations) or ``max`` of the two (default).
    INCONCLUSIVE when the profile's time budget was spent before the measure was taken
    (the default batch size is the largest asked for, whether or not the budget reached it).
    """
    profile = _profile(ctx, params, params.batch_size)
    size = params.batch_size or max(profile.batches)
    why = profile.memory_missing_reason(size, params.source)
    if why:
        return _not_measured(ctx, profile, f"peak memory of one call at batch size {size}", why)
    mem = profile.batch(size).memory
    if params.source == "rss" and mem.rss_delta_bytes is None:
        raise CheckError("resident set size is not available on this platform")
    by = {"tracemalloc": mem.tracemalloc_bytes, "rss": mem.rss_delta_bytes, "max": mem.peak_bytes}
    value = by[params.source] / MB
    msg = (f"peak memory of one call at batch size {size}: {value:.3g} MB ({params.source}; "
           f"tracemalloc {mem.tracemalloc_bytes / MB:.3g} MB, RSS increase "
           f"{(mem.rss_delta_bytes or 0) / MB:.3g} MB via {mem.rss_method}, "
           f"process peak RSS {(mem.rss_peak_bytes or 0) / MB:.0f} MB)")
    return Measurement(value=value, n=1, message=msg, details=_details(ctx, profile))


# -- footprint -----------------------------------------------------------------------------------
def _footprint_details(rows: list[list], estimator) -> dict:
    return {"tables": [{"title": "Model footprint", "columns": ["measure", "value"], "rows": rows},
                       _environment_table(environment(estimator))]}


@register_check("latency.model_size_mb", params=SizeParams, needs={"model"}, higher_is_better=False)
def model_size_mb(ctx, params: SizeParams) -> Measurement:
    """Model size in MB: pickled estimator (default) or the model file on disk."""
    size = get_model_size(ctx)
    nbytes = size.pickled_bytes if params.kind == "pickled" else size.disk_bytes
    if nbytes is None:
        raise CheckSkipped(f"no {params.kind} size: {size.note}")
    rows = [["model file", size.path or "none"],
            ["size on disk (MB)", _num(size.disk_bytes / MB) if size.disk_bytes is not None else None],
            ["pickled size (MB)", _num(size.pickled_bytes / MB) if size.pickled_bytes is not None else None],
            ["note", size.note or ""]]
    return Measurement(value=nbytes / MB, message=f"model size ({params.kind}): {nbytes / MB:.3g} MB",
                       details=_footprint_details(rows, ctx.model.estimator))


@register_check("latency.cold_start_s", params=ColdStartParams, needs={"model"}, higher_is_better=False)
def cold_start_s(ctx, params: ColdStartParams) -> Measurement:
    """Cold start in seconds: load the model file in a fresh process, then predict one row.

    Repeated while ``budget_s`` lasts (at least once); value: the median; interval: from the
    least CPU time of a run (a start on a core of its own) to the longest wall time (as the
    machine was loaded). The audit starts it in the background when the checks begin.
    Without a model file the estimator is unpickled in process (libraries already
    imported, so it understates); the message says which.
    """
    try:
        cs = get_cold_start(ctx, params.method, params.timeout_s, params.budget_s)
    except subprocess.TimeoutExpired as exc:
        raise CheckError(f"cold start took longer than timeout_s={params.timeout_s} s") from exc
    except (RuntimeError, ValueError, OSError) as exc:
        raise CheckError(f"cold start could not be measured: {exc}") from exc
    low, high = cs.bracket
    rows = [["method", cs.method], ["runs (within budget_s)", len(cs.runs)],
            ["load (s), imports included, median", _num(cs.load_s)],
            ["first prediction, 1 row (s), median", _num(cs.first_predict_s)],
            ["least CPU time of a run (s)", _num(low)], ["longest wall time of a run (s)", _num(high)],
            ["child process wall time (s), median", _num(cs.process_s)]]
    rows += [[k, v if isinstance(v, str) else _num(v)] for k, v in cs.extra.items()]
    runs = {"title": "Cold-start runs", "columns": ["run", "load s", "first prediction s", "wall s", "CPU s",
                                                    "child process s"],
            "rows": [[i + 1, _num(r.load_s), _num(r.first_predict_s), _num(r.seconds), _num(r.cpu_s),
                      _num(r.process_s)] for i, r in enumerate(cs.runs)]}
    details = _footprint_details(rows, ctx.model.estimator)
    details["tables"].insert(1, runs)
    msg = (f"cold start ({cs.method}): {cs.seconds:.3g} s = load {cs.load_s:.3g} s + first prediction "
           f"{cs.first_predict_s:.3g} s (median of {len(cs.runs)} run(s); CPU {low:.3g} s to wall {high:.3g} s)")
    why = imprecise(cs.seconds, low, high, params.max_relative_width, "no run")
    return Measurement(value=cs.seconds, n=len(cs.runs), message=msg, inconclusive=why,
                       interval=Interval(low=low, high=high, level=1.0, method="cpu-wall-bracket"),
                       details=details)


def start_background(ctx, planned: list[tuple[str, BaseModel]]) -> None:
    """Start the measurements that can overlap with other checks: the cold starts (child processes).

    ``planned`` holds ``(check id, validated params)`` of the audit's latency checks; called by
    the runner before the other checks run.
    """
    for cid, params in planned:
        if cid == "latency.cold_start_s":
            try:
                start_cold_start(ctx, params.method, params.timeout_s, params.budget_s)
            except CheckSkipped:
                return  # predictions-only: the check says so itself
