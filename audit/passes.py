"""The two passes every audit makes over its partitions, and what travels back from them.

An in-memory audit is the one-partition case; the same functions run on a
thread of this process or on a Dask worker. Both tasks are module-level
functions of picklable arguments.

1. :func:`sample_task` (sample pass) returns exact counts (rows, strata,
   value counts, numeric extremes) and the rows that may enter the stratified
   sample, chosen by the smallest row keys. A row's key depends only on the
   seed and its global index, so the sample is the same for any partitioning.
2. :func:`summary_task` (summary pass) builds the partition's rows of every
   partitioned evaluation set (each set once, whatever the number of models),
   predicts each once per model, and returns the planned summaries
   (:mod:`audit.stats.summaries`), plus the base predictions of the sample's
   rows, so the sample is never predicted twice.

:func:`rows_of` is the one place predictions become the class indices,
scores and cell codes summaries are computed from; the audit context uses it
too for sets built on the sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.data.sources import Partition, read_partition
from audit.evalsets import EvalSetSpec, EvaluationSet, TableInfo, base_set, build_set
from audit.scale import limited, threads_in_effect
from audit.stats._random import row_keys
from audit.stats.summaries import (
    CellTable,
    Request,
    Rows,
    SummaryAux,
    category_counts,
    cell_keys,
    merge,
    summarise,
)

__all__ = ["strata_of", "SampleJob", "PartitionJob", "SummaryPass", "sample_task", "summary_task", "rows_of",
           "merge_sample_pass", "select_sample", "inclusion_weights", "merge_summaries", "row_hashes", "set_failure", "class_index",
           "MAX_VOCAB", "FLOOR"]

MAX_VOCAB = 1000  # distinct values counted exactly per column; beyond that the column is not counted
FLOOR = 200  # rows every stratum contributes to the sample at least (or all of its rows)


# -- pass 1: counts and the sample --------------------------------------------------------------

def strata_of(target: str | None, sensitive: list[str], classification: bool) -> list[str]:
    """The columns whose value combination is a stratum: the label (classification only), then
    the sensitive columns, each once (a policy may name its target as a sensitive column too)."""
    return list(dict.fromkeys([*([target] if classification and target is not None else []), *sensitive]))


@dataclass
class SampleJob:
    """What the sample pass needs: the columns, the strata, and the sampling threshold."""

    columns: list[str]
    strata: list[str]  # columns whose value combination is a stratum (label and sensitive)
    counted: list[str]  # columns whose value counts are kept exactly
    numeric: list[str]  # columns whose min and max are kept
    seed: int
    threshold: float  # rows with key < threshold * 2**64 are candidates
    floor: int  # plus the `floor` smallest keys of every stratum
    max_vocab: int = MAX_VOCAB  # distinct values counted per column (policy: execution.max_groups)
    weight: str | None = None  # weight column, validated on every row


def _cut(threshold: float) -> np.uint64:
    return np.uint64(min(int(threshold * 2.0 ** 64), 2 ** 64 - 1))


def sample_task(source, part: Partition, job: SampleJob) -> dict:
    """Pass 1 on one partition: exact counts, extremes, and candidate rows for the sample."""
    df = read_partition(source, part, job.columns)
    rows = np.arange(part.start, part.stop, dtype=np.int64)
    codes, keys = cell_keys(df[job.strata], job.strata)
    key = row_keys(job.seed, "sample", rows)
    # Candidates: every row under the threshold, plus each stratum's `floor` smallest keys
    # (the floor of a small stratum's allocation).
    keep = key < _cut(job.threshold)
    keep[_smallest_per_cell(codes, len(keys), key, job.floor)] = True
    cand = df.iloc[np.flatnonzero(keep)].copy()
    cand["__key"] = key[keep]
    cand["__stratum"] = [keys[c] for c in codes[keep]]
    counts = {}
    for c in job.counted:
        vc = category_counts(df[c])
        counts[c] = None if len(vc) > job.max_vocab else vc
    extremes = {}
    for c in job.numeric:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        ok = v[np.isfinite(v)]
        extremes[c] = (float(ok.min()), float(ok.max())) if len(ok) else (np.inf, -np.inf)
    strata = CellTable({k: np.array([n], dtype=np.int64) for k, n in zip(keys, np.bincount(codes), strict=True)})
    out = {"rows": len(df), "candidates": cand, "strata": strata, "counts": counts, "extremes": extremes}
    if job.weight is not None:
        from audit.data.weights import weight_tally

        out["weights"] = weight_tally(df[job.weight])
    return out


def _smallest_per_cell(codes: np.ndarray, n_cells: int, key: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest keys of every cell (all of a cell's rows if it has fewer).

    Keys are distinct (a bijection of the row number), so the rows are well defined; a partial
    sort per cell, rather than sorting every row by (cell, key), which cost a quarter of a
    sample task's time.
    """
    by_cell = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=n_cells))
    out = []
    for lo, hi in zip(np.concatenate(([0], ends[:-1])), ends, strict=True):
        rows = by_cell[lo:hi]
        if len(rows) > k:
            rows = rows[np.argpartition(key[rows], k - 1)[:k]]
        out.append(rows)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def merge_sample_pass(results, job: SampleJob, advance=lambda: None) -> dict:
    """Add up the sample pass's counts and keep the candidates the selection may need."""
    cand, strata, counts, extremes, rows, weights = None, CellTable(), {}, {}, 0, None
    cut = _cut(job.threshold)
    for r in results:
        rows += r["rows"]
        if "weights" in r:
            from audit.data.weights import merge_weight_tallies

            weights = merge_weight_tallies(weights, r["weights"])
        strata = strata + r["strata"]
        for c, vc in r["counts"].items():
            if (c in counts and counts[c] is None) or vc is None:
                counts[c] = None
            else:
                acc = counts.setdefault(c, {})
                for v, m in vc.items():
                    acc[v] = acc.get(v, 0) + m
                if len(acc) > job.max_vocab:  # as if counted in one partition: any partitioning alike
                    counts[c] = None
        for c, (lo, hi) in r["extremes"].items():
            a, b = extremes.get(c, (np.inf, -np.inf))
            extremes[c] = (min(a, lo), max(b, hi))
        cand = _trim(r["candidates"] if cand is None else pd.concat([cand, r["candidates"]]), cut, job.floor)
        advance()
    # The strata columns travel with the counts keyed on them, for the design weights.
    out = {"rows": rows, "candidates": cand, "strata": strata, "strata_by": job.strata, "counts": counts,
           "extremes": extremes}
    if weights is not None:
        out["weights"] = weights
    return out


def _trim(cand: pd.DataFrame, cut, floor: int) -> pd.DataFrame:
    # Keep what the final selection may need: keys under the threshold, and each stratum's
    # `floor` smallest keys (the running merge stays bounded whatever the number of partitions).
    rank = cand.groupby("__stratum", sort=False)["__key"].rank(method="first")
    return cand[(cand["__key"].to_numpy() < cut) | (rank.to_numpy() <= floor)]


def select_sample(merged: dict, k: int, n: int, threshold: float, floor: int = FLOOR) -> pd.DataFrame | None:
    """The stratified sample: in each stratum the n_h smallest keys, n_h proportional (at least
    ``floor``, or all of the stratum's rows).

    Returns None when a stratum has fewer candidates under the threshold than it needs
    (its allocation would then depend on which partitions sent floor rows): the caller
    widens the threshold and reads again. The sample's index holds global row numbers.
    The sample pass must have kept each stratum's ``floor`` smallest keys (``SampleJob.floor``).
    """
    cand = merged["candidates"].sort_values("__key", kind="stable")
    want = {key: min(int(size[0]), max(floor, int(round(k * int(size[0]) / n))))
            for key, size in merged["strata"].items()}
    strata = cand["__stratum"]
    under = cand["__key"].to_numpy() < _cut(threshold)
    n_under = pd.Series(under).groupby(strata.to_numpy(), sort=False).sum()
    if threshold < 1.0 and any(w > floor and n_under.get(key, 0) < w for key, w in want.items()):
        return None
    rank = cand.groupby("__stratum", sort=False).cumcount().to_numpy()
    limit = strata.map(want).to_numpy()
    out = cand[rank < limit].sort_index()
    return out.drop(columns=["__key", "__stratum"])


def inclusion_weights(merged: dict, sample: pd.DataFrame) -> np.ndarray:
    """Each sample row's design weight ``N_h / n_h``: the rows of its stratum ``h`` in the whole
    table over the stratum's rows in the sample (the inverse of its inclusion probability; 1.0
    everywhere when the sample is the whole table).

    Within a stratum the sample is the rows with the smallest seeded keys, a simple random
    sample without replacement, so ``N_h / n_h`` is the Horvitz-Thompson weight.
    """
    strata = merged["strata_by"]
    codes, keys = cell_keys(sample[strata], strata)
    sizes = np.array([int(merged["strata"][k][0]) for k in keys], dtype=np.float64)
    taken = np.bincount(codes, minlength=len(keys)).astype(np.float64)
    return (sizes / taken)[codes]


# -- pass 2: evaluation sets, predictions, summaries --------------------------------------------

@dataclass
class PartitionJob:
    """What the summary pass needs; shipped to every worker once.

    Attributes
    ----------
    specs : dict
        Name -> EvalSetSpec of every partitioned set (``base`` first).
    requests : dict
        Set -> the summaries to compute on it.
    aux : list of SummaryAux
        Reference-side inputs, one per model (PSI edges depend on the model's reference scores).
    sample_rows : ndarray
        Sorted global row numbers of the stratified sample (their base predictions travel back).
    threads : int or None
        Native threads per model call (:class:`~audit.scale.ThreadPlan`); None leaves the pools as
        they are.
    """

    features: list[str]
    target: str
    sensitive: list[str]
    prediction: str | None
    score: str | None
    task: str
    classes: np.ndarray
    table: TableInfo
    specs: dict[str, EvalSetSpec]
    requests: dict[str, list[Request]]
    aux: list[SummaryAux]
    sample_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    threads: int | None = None
    weight: str | None = None  # weight column (weighted audits)

    @property
    def columns(self) -> list[str]:
        cols = [*self.features, self.target, *self.sensitive, self.prediction, self.score, self.weight]
        return list(dict.fromkeys(c for c in cols if c is not None))


def class_index(classes: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    """Position of each value among ``classes``; ValueError naming the strays."""
    idx = pd.Index(classes).get_indexer(np.asarray(values))
    if (idx < 0).any():
        bad = pd.unique(np.asarray(values)[idx < 0])[:5].tolist()
        raise ValueError(f"{what} {bad} not among the classes {list(classes)}")
    return idx.astype(np.int64)


def row_hashes(X: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of ``X`` (values only, index ignored), vectorised by pandas."""
    # index=False: the index takes no part in the hashes, so it is not renumbered (a copy of X).
    return pd.util.hash_pandas_object(X, index=False).to_numpy()


def _hashes(es: EvaluationSet, aux: SummaryAux, wanted) -> dict:
    out = {}
    for with_target in wanted:
        # Hashing reads the columns: the set's own frame serves when it has them all, in order.
        a = es.X if list(es.X.columns) == list(aux.ref_columns) else es.X[aux.ref_columns]
        if with_target:
            a = a.assign(__y=np.asarray(es.y))
        out[with_target] = row_hashes(a)
    return out


def rows_of(es: EvaluationSet, preds, *, task: str, classes, pos_label, sensitive: list[str],
            cells=None, requests=(), aux: SummaryAux | None = None, weights: np.ndarray | None = None) -> Rows:
    """The :class:`Rows` summaries of ``es`` are computed from.

    ``preds`` is a :class:`~audit.models.adapter.Predictions`; ``cells`` the (codes, keys)
    of the set's sensitive rows when already coded (derived rows map through their base row);
    ``weights`` the row weights of ``es``'s rows (weighted audits; each derived row carries the
    weight of the base row it came from).
    """
    codes, keys = cells if cells is not None else cell_keys(es.sensitive, sensitive)
    frame = es.X
    extra = [c for c in es.sensitive.columns if c not in es.X.columns]
    if extra:
        frame = pd.concat([es.X, es.sensitive[extra]], axis=1)
    kinds = {r.kind for r in requests}
    hashes = _hashes(es, aux, {bool(r.arg) for r in requests if r.kind == "dups"}) if "dups" in kinds else None
    src = np.asarray(es.source_index, dtype=np.int64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if task == "regression":
        return Rows(y=None, pred=None, score=None, proba=None, codes=codes, keys=keys, k=0, pos=0, frame=frame,
                    hashes=hashes, rows=src,
                    y_value=None if es.y is None else np.asarray(es.y, dtype=np.float64),
                    pred_value=None if preds is None else np.asarray(preds.labels, dtype=np.float64), w=w)
    classes = np.asarray(classes)
    pos = int(class_index(classes, np.asarray([pos_label]), "pos_label")[0])
    y = class_index(classes, es.y, "target labels") if es.y is not None else None
    if preds is None:  # summaries of the data alone (counts, missing values, duplicates, sketches)
        return Rows(y=y, pred=None, score=None, proba=None, codes=codes, keys=keys, k=len(classes), pos=pos,
                    frame=frame, hashes=hashes, rows=src, w=w)
    proba = _aligned_proba(preds, classes)
    score = None
    if proba is not None:
        score = proba if proba.ndim == 1 else proba[:, pos] if proba.shape[1] == 2 else None
    return Rows(y=y, pred=class_index(classes, preds.labels, "predictions"), score=score,
                proba=proba if proba is not None and proba.ndim == 2 else None, codes=codes, keys=keys,
                k=len(classes), pos=pos, frame=frame, hashes=hashes, rows=src, w=w)


def _aligned_proba(preds, classes: np.ndarray):
    p = preds.proba
    if p is None:
        return None
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and preds.classes is not None and not np.array_equal(np.asarray(preds.classes), classes):
        p = p[:, class_index(np.asarray(preds.classes), classes, "model classes")]
    return p


def _stored(job: PartitionJob, df: pd.DataFrame):
    """Stored decisions and scores of a predictions-only audit, as Predictions."""
    from audit.models.adapter import Predictions

    proba = None
    if job.score is not None:
        s = df[job.score].to_numpy(dtype=float)
        pos_last = job.classes[-1] == job.table.pos_label
        proba = np.column_stack([1.0 - s, s] if pos_last else [s, 1.0 - s])
    return Predictions(labels=df[job.prediction].to_numpy(), proba=proba, classes=job.classes, stored=True)


def set_failure(exc: Exception, es: EvaluationSet | None, name: str, what: str) -> tuple[str, str]:
    """``(kind, message)`` recorded when a set cannot be built or predicted: checks reading the
    set become SKIPPED (``kind == "skip"``) or ERROR with this message; the audit goes on."""
    from audit.errors import CheckSkipped

    if isinstance(exc, CheckSkipped):
        return "skip", str(exc)
    msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if what == "predict" and es is not None and es.X.isna().to_numpy().any():
        return "error", (f"the model cannot predict evaluation set {name!r}, which has missing values ({msg}). "
                         "Add imputation to the model pipeline, or drop this evaluation set from the policy.")
    return "error", f"evaluation set {name!r} could not be {'built' if what == 'build' else 'predicted'}: {msg}"


def summary_task(source, part: Partition, job: PartitionJob, models: list) -> dict:
    """Pass 2 on one partition: every planned summary of every partitioned set, for every model.

    A set that cannot be built or predicted is recorded as a failure of that set (see
    :func:`set_failure`), not of the partition: the checks reading it report it. Model calls
    run under ``job.threads`` native threads, set by this task on its own thread (OpenMP's
    limit belongs to the calling thread); the pools it saw travel back for the manifest.
    """
    with limited(job.threads) as lim:
        out = _summary_task(source, part, job, models)
        out["threads"] = {**threads_in_effect(), "scope": lim["scope"]}
    return out


def _summary_task(source, part: Partition, job: PartitionJob, models: list) -> dict:
    t0 = time.perf_counter()
    df = read_partition(source, part, job.columns)
    rows = np.arange(part.start, part.stop, dtype=np.int64)
    base = base_set(_positional(df[job.features]), df[job.target].to_numpy() if job.target in df.columns else None,
                    _positional(df[job.sensitive]), rows)
    # Evaluation sets never change sensitive values: code the base rows once and map derived
    # rows through the base row each came from.
    base_cells = cell_keys(base.sensitive, job.sensitive)
    base_w = None if job.weight is None else pd.to_numeric(df[job.weight], errors="coerce").to_numpy(dtype=np.float64)
    out: list[dict] = [dict() for _ in models]
    failed: list[dict] = [dict() for _ in models]
    describe, counts = {}, {}
    predict_s = [0.0] * len(models)
    base_rows: list = [None] * len(models)
    sample_preds: list = [None] * len(models)
    in_sample = np.isin(rows, job.sample_rows, assume_unique=True)
    for name, spec in job.specs.items():
        try:
            es = base if name == "base" else build_set(job.table, base, spec, job.table.seed)
        except Exception as exc:  # noqa: BLE001 - recorded for the checks that read this set
            for f in failed:
                f[name] = set_failure(exc, None, name, "build")
            continue
        counts[name] = np.int64(es.n_rows)
        if name != "base":
            describe[name] = es.describe()
        cells = base_cells if name == "base" else (base_cells[0][es.source_index - part.start], base_cells[1])
        w = None if base_w is None else (base_w if name == "base" else base_w[es.source_index - part.start])
        reqs = job.requests.get(name, [])
        for i, model in enumerate(models):
            if name != "base" and base_rows[i] is None:
                failed[i][name] = failed[i]["base"]
                continue
            try:
                preds = _stored(job, df) if model is None else model.predict_all(es.X, job.task)
                predict_s[i] += preds.duration_s
                r = rows_of(es, preds, task=job.task, classes=job.classes, pos_label=job.table.pos_label,
                            sensitive=job.sensitive, cells=cells, requests=reqs, aux=job.aux[i], weights=w)
                summaries = {req: summarise(req, r, base_rows[i], job.aux[i]) for req in reqs}
            except Exception as exc:  # noqa: BLE001 - recorded for the checks that read this set
                failed[i][name] = set_failure(exc, es, name, "predict")
                continue
            if name == "base":
                base_rows[i] = r
                sample_preds[i] = _take(preds, in_sample)
            out[i].update(summaries)
    return {"summaries": out, "failed": failed, "describe": describe, "set_rows": counts, "rows": len(df),
            "predict_s": predict_s, "sample_rows": rows[in_sample], "sample_preds": sample_preds,
            "task_s": time.perf_counter() - t0}


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    # ``df[columns]`` is already a new frame: number its rows 0..n-1 in place rather than through
    # ``reset_index``, which would copy every column once more.
    frame.index = pd.RangeIndex(len(frame))
    return frame


def _take(preds, mask: np.ndarray):
    if not mask.any():
        return None
    return (np.asarray(preds.labels)[mask], None if preds.proba is None else np.asarray(preds.proba)[mask])


@dataclass
class SummaryPass:
    """The merged summary pass of one model.

    Attributes
    ----------
    summaries : dict
        Request -> merged summary (over every partition).
    set_rows : dict
        Partitioned set -> its rows over the whole table.
    describe : dict
        Partitioned set -> its description.
    failed : dict
        Set -> ``(kind, message)`` when it could not be built or predicted on some partition.
    sample_preds : tuple or None
        (labels, proba) of the base set on the sample's rows, in global row order.
    predict_s : float
        Time inside the model, summed over partitions.
    threads : list of dict
        The distinct native thread counts the partitions' model calls ran with.
    """

    summaries: dict
    set_rows: dict
    describe: dict
    failed: dict
    sample_preds: tuple | None
    predict_s: float
    threads: list = field(default_factory=list)


def merge_summaries(results, n_models: int, advance=lambda: None) -> tuple[list[SummaryPass], float]:
    """Merge the summary pass per model; also returns the summed task time."""
    merged: list[dict] = [dict() for _ in range(n_models)]
    failed: list[dict] = [dict() for _ in range(n_models)]
    pieces: list[list] = [[] for _ in range(n_models)]
    predict_s = [0.0] * n_models
    describe: dict = {}
    set_rows: dict = {}
    task_s = 0.0
    threads: list = []
    for r in results:
        if r.get("threads") is not None and r["threads"] not in threads:
            threads.append(r["threads"])
        for name, d in r["describe"].items():
            describe.setdefault(name, d)
        for name, c in r["set_rows"].items():
            set_rows[name] = set_rows.get(name, 0) + int(c)
        for i in range(n_models):
            for key, v in r["summaries"][i].items():
                merged[i][key] = merge(merged[i].get(key), v)
            for name, f in r["failed"][i].items():
                failed[i].setdefault(name, f)
            predict_s[i] += r["predict_s"][i]
            if r["sample_preds"][i] is not None:
                pieces[i].append((r["sample_rows"], *r["sample_preds"][i]))
        task_s += r["task_s"]
        advance()
    out = []
    for i in range(n_models):
        preds = None
        if pieces[i]:
            order = np.argsort(np.concatenate([p[0] for p in pieces[i]]), kind="stable")
            labels = np.concatenate([p[1] for p in pieces[i]])[order]
            proba = None if pieces[i][0][2] is None else np.concatenate([p[2] for p in pieces[i]])[order]
            preds = (labels, proba)
        out.append(SummaryPass(merged[i], dict(set_rows), dict(describe), failed[i], preds, predict_s[i],
                               list(threads)))
    return out, task_s

