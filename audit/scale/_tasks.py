"""The two tasks a streamed audit runs on every partition (on a thread or a Dask worker).

``sample_task`` (pass 1) returns exact counts and the rows that may enter the
stratified sample; ``summary_task`` (pass 2) builds the streamed evaluation
sets of its rows, predicts each once, and returns their summaries. Both are
plain module-level functions of picklable arguments, so Dask can ship them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from audit.evalsets._base import EvaluationSet
from audit.scale._partitions import Partition, TableSource, read_partition
from audit.scale._random import row_keys
from audit.scale._summaries import MISSING, CellTable, Request, Rows, cell_keys, summarise

__all__ = ["SamplePlan", "Plan", "sample_task", "summary_task", "MAX_VOCAB"]

MAX_VOCAB = 1000  # distinct values counted exactly per column; beyond that the column is not counted


@dataclass
class SamplePlan:
    """What pass 1 needs: the columns, the strata, and the sampling threshold."""

    columns: list[str]
    target: str
    sensitive: list[str]
    counted: list[str]  # columns whose value counts are kept exactly
    numeric: list[str]  # columns whose min and max are kept
    seed: int
    threshold: float  # rows with key < threshold * 2**64 are candidates
    floor: int  # plus the `floor` smallest keys of every stratum


@dataclass
class Plan:
    """What pass 2 needs; shipped to every worker once."""

    features: list[str]
    target: str
    sensitive: list[str]
    prediction: str | None
    score: str | None
    task: str
    classes: np.ndarray
    pos_label: object
    seed: int
    feature_types: dict
    constraints: dict
    declared_constraints: dict
    specs: dict
    evalset_seeds: dict
    stats: object
    requests: dict[str, list[Request]]
    psi_edges: dict = field(default_factory=dict)
    ref_hashes: dict = field(default_factory=dict)  # include_target -> sorted reference row hashes
    ref_columns: list = field(default_factory=list)
    ref_unique: dict = field(default_factory=dict)  # feature -> sorted distinct reference values (None: categorical)

    @property
    def dataset(self):
        # What audit.evalsets._tabular reads from an audit context.
        return SimpleNamespace(feature_types=self.feature_types, reference=None)

    @property
    def columns(self) -> list[str]:
        cols = [*self.features, self.target, *self.sensitive, self.prediction, self.score]
        return list(dict.fromkeys(c for c in cols if c is not None))


def _stratum_table(df: pd.DataFrame, target: str, sensitive: list[str]):
    return cell_keys(df[[target, *sensitive]].rename(columns={target: "__target"}), ["__target", *sensitive])


def sample_task(source: TableSource, part: Partition, sp: SamplePlan) -> dict:
    """Pass 1 on one partition: exact counts, extremes, and candidate rows for the sample."""
    df = read_partition(source, part, sp.columns)
    rows = np.arange(part.start, part.stop, dtype=np.int64)
    codes, keys = _stratum_table(df, sp.target, sp.sensitive)
    key = row_keys(sp.seed, "sample", rows)
    cut = np.uint64(min(int(sp.threshold * 2.0 ** 64), 2 ** 64 - 1))
    # Candidates: every row under the threshold, plus each stratum's `floor` smallest keys
    # (the floor of a small stratum's allocation). Order by (stratum, key) once.
    order = np.lexsort((key, codes))
    starts = np.searchsorted(codes[order], np.arange(len(keys)))
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    keep = np.zeros(len(df), dtype=bool)
    keep[order[rank < sp.floor]] = True
    keep |= key < cut
    cand = df.iloc[np.flatnonzero(keep)].copy()
    cand["__key"] = key[keep]
    cand["__stratum"] = [keys[c] for c in codes[keep]]
    counts = {}
    for c in sp.counted:
        vc = df[c].value_counts(dropna=False, sort=False)
        if len(vc) > MAX_VOCAB:
            counts[c] = None
            continue
        acc: dict[str, int] = {}
        for v, m in vc.items():
            name = MISSING if pd.isna(v) else str(v)  # as group_codes names values
            acc[name] = acc.get(name, 0) + int(m)
        counts[c] = acc
    extremes = {}
    for c in sp.numeric:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        ok = v[~np.isnan(v)]
        extremes[c] = (float(ok.min()), float(ok.max())) if len(ok) else (np.inf, -np.inf)
    strata = CellTable({k: np.array([n], dtype=np.int64) for k, n in zip(keys, np.bincount(codes), strict=True)})
    return {"rows": len(df), "candidates": cand, "strata": strata, "counts": counts, "extremes": extremes}


def _class_index(classes: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    idx = pd.Index(classes).get_indexer(np.asarray(values))
    if (idx < 0).any():
        bad = pd.unique(np.asarray(values)[idx < 0])[:5].tolist()
        raise ValueError(f"{what} {bad} not among the classes {list(classes)}")
    return idx.astype(np.int64)


def _rows_of(plan: Plan, es: EvaluationSet, labels, proba, codes_keys, hashes=None) -> Rows:
    classes = plan.classes
    pos = int(_class_index(classes, np.asarray([plan.pos_label]), "pos_label")[0])
    score = None
    if proba is not None:
        score = proba if proba.ndim == 1 else proba[:, pos] if proba.shape[1] == 2 else None
    codes, keys = codes_keys
    frame = es.X
    extra = [c for c in es.sensitive.columns if c not in es.X.columns]
    if extra:
        frame = pd.concat([es.X, es.sensitive[extra]], axis=1)
    return Rows(y=_class_index(classes, es.y, "target labels") if es.y is not None else None,
                pred=_class_index(classes, labels, "predictions"), score=score,
                proba=proba if proba is not None and proba.ndim == 2 else None, codes=codes, keys=keys,
                k=len(classes), pos=pos, frame=frame, hashes=hashes,
                rows=np.asarray(es.source_index, dtype=np.int64))


def _predict(plan: Plan, model, es: EvaluationSet, df: pd.DataFrame | None):
    """Labels and probabilities of one set; the model's own time is returned separately."""
    if model is None:
        proba = None
        if plan.score is not None:
            s = df[plan.score].to_numpy(dtype=float)
            proba = np.column_stack([1.0 - s, s]) if plan.classes[-1] == plan.pos_label else np.column_stack([s, 1 - s])
        return df[plan.prediction].to_numpy(), proba, 0.0
    p = model.predict_all(es.X, plan.task)
    proba = p.proba if p.proba is not None and p.classes is not None else None
    if proba is not None and not np.array_equal(np.asarray(p.classes), plan.classes):
        proba = proba[:, _class_index(np.asarray(p.classes), plan.classes, "classes")]
    return p.labels, proba, p.duration_s


def _hashes(plan: Plan, es: EvaluationSet) -> dict[bool, np.ndarray]:
    from audit.checks.data import row_hashes

    out = {}
    for with_target in plan.ref_hashes:
        cols = plan.ref_columns
        a = es.X[cols]
        if with_target:
            a = a.assign(__y=np.asarray(es.y))
        out[with_target] = row_hashes(a)
    return out


def summary_task(source: TableSource, part: Partition, plan: Plan, model) -> dict:
    """Pass 2 on one partition: every requested summary of every streamed evaluation set."""
    from audit.scale._evalsets import build_partition

    t0 = time.perf_counter()
    df = read_partition(source, part, plan.columns)
    rows = np.arange(part.start, part.stop, dtype=np.int64)
    base = EvaluationSet(name="base", kind="base", X=df[plan.features].reset_index(drop=True),
                         y=df[plan.target].to_numpy(), sensitive=df[plan.sensitive].reset_index(drop=True),
                         source_index=rows)
    out: dict = {}
    predict_s = 0.0
    base_rows = base_ck = None
    for name in ["base", *[n for n in plan.requests if n != "base"]]:
        reqs = plan.requests.get(name, [])
        if not reqs and name != "base":
            continue
        es = base if name == "base" else build_partition(plan, name, base)
        labels, proba, dt = _predict(plan, model if name != "base" or plan.prediction is None else None,
                                     es, df if name == "base" else None)
        predict_s += dt
        # Evaluation sets never change sensitive values: code the base rows once and
        # map derived rows through the base row each came from.
        ck = base_ck if base_ck is not None else cell_keys(es.sensitive, plan.sensitive)
        if name == "base":
            base_ck = ck
        else:
            ck = (base_ck[0][es.source_index - part.start], base_ck[1])
        need_hash = any(r.kind == "dups" for r in reqs)
        r = _rows_of(plan, es, labels, proba, ck, _hashes(plan, es) if need_hash else None)
        if name == "base":
            base_rows = r
        for req in reqs:
            out[req] = summarise(req, r, base_rows, plan)
        out[("rows", name)] = np.int64(es.n_rows)
        if name != "base" and ("describe", name) not in out:
            d = es.describe()
            d.pop("cells_changed", None)
            out[("describe", name)] = d
    return {"summaries": out, "rows": len(df), "predict_s": predict_s, "task_s": time.perf_counter() - t0}
