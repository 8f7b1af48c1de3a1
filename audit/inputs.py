"""An audit's inputs, made once: the data source and its partitions, the models, the sample pass.

:func:`prepare_inputs` checks the policy against the data's schema (every column,
constraint and parameter it names: :mod:`audit.input_checks`), opens the data (a file,
folder, glob or DataFrame), runs the sample pass over every partition
(:func:`audit.passes.sample_task`), checks the groups and labels the policy names against
its exact counts, has every model answer a probe batch, and turns the counts and the
stratified sample into what every model's audit shares: the sample as a
:class:`~audit.data.dataset.Dataset`, the task, the classes, the completed feature
constraints and the :class:`~audit.evalsets.TableInfo` builders read. Every problem found
before that point is an input error (exit code 2) and nothing is audited. The in-memory
executor is the case of one partition.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audit.constraints import resolve_constraints
from audit.data.dataset import Dataset, infer_feature_types
from audit.data.loading import dataset_from_frame, infer_task, table_sha256
from audit.data.sources import (
    FrameSource,
    Partition,
    open_source,
    partitions,
    read_partition,
    whole,
)
from audit.errors import DataError, PolicyError
from audit.evalsets import TableInfo, table_stats
from audit.evalsets._table import typed_values
from audit.input_checks import (
    check_schema,
    check_values,
    data_files,
    implicit_features,
    positive_label,
    probe_models,
    read_schema,
)
from audit.models.guard import DEFAULT_TIMEOUT_S
from audit.models.loading import file_sha256, load_model, wrap_model
from audit.passes import (
    FLOOR,
    MAX_VOCAB,
    SampleJob,
    merge_sample_pass,
    sample_task,
    select_sample,
    strata_of,
)
from audit.policy._problems import Collector
from audit.stats.summaries import MISSING

__all__ = ["Columns", "LoadedModel", "AuditInputs", "prepare_inputs", "load_models", "data_columns", "open_data",
           "frame_sha256", "model_manifest", "sample_pass", "data_digest"]


@dataclass(frozen=True)
class Columns:
    """Which columns of the data play which part."""

    features: list[str]
    target: str
    sensitive: list[str]
    prediction: str | None
    score: str | None
    weight: str | None = None

    @property
    def all(self) -> list[str]:
        extra = [c for c in (self.prediction, self.score, self.weight) if c is not None]
        return list(dict.fromkeys([*self.features, self.target, *self.sensitive, *extra]))


def data_columns(d, columns: list[str], location: str) -> Columns:
    """The policy's ``data`` block resolved against the data's columns; DataError naming what is missing."""
    def need(names, what):
        missing = [c for c in names if c not in columns]
        if missing:
            shown = columns[:25] + (["..."] if len(columns) > 25 else [])
            raise DataError(f"{location}: {what} column(s) {missing} not found; the data has {shown}")

    need([d.target], "target")
    need(list(d.sensitive), "sensitive")
    extra = [c for c in (d.prediction, d.score) if c is not None]
    need(extra, "prediction/score")
    weight = getattr(d, "weight", None)
    if weight is not None:
        need([weight], "weight")
        extra.append(weight)
    if d.features is not None:
        need(list(d.features), "feature")
        features = list(d.features)
    else:
        features = implicit_features(columns, [d.target, *extra], list(d.sensitive), d.sensitive_features)
    if d.target in features:
        raise DataError(f"{location}: the target column {d.target!r} is also listed as a feature")
    return Columns(features, d.target, list(d.sensitive), d.prediction, d.score, weight)


@dataclass
class LoadedModel:
    """One model to audit: its label, adapter (None: predictions-only) and manifest entry."""

    name: str | None
    adapter: object | None
    file: Path | None = None
    manifest: dict = field(default_factory=dict)


def load_models(lp, models=(), trust: bool = False, trust_types: tuple[str, ...] = ()) -> list[LoadedModel]:
    """The models to audit: ``models`` (paths or objects) if given, else the policy's.

    A policy's entry point or pickle runs code: it needs ``trust`` (``--trust-model``); a skops
    file's types outside skops' safe list need ``trust`` or naming in ``trust_types``
    (``--trust-type``). Every model gets the time budget and isolation of the policy's
    ``model`` block (``timeout_s``, ``isolate``).
    """
    p = lp.policy
    out = []
    if models:
        timeout, isolate = _bounds(p.model)
        for m in models:
            if isinstance(m, str | Path):
                f = Path(m)
                adapter = load_model(f, trust=trust, trust_types=trust_types)
                out.append(LoadedModel(f.stem, adapter.bounded(timeout, isolate), f))
            else:
                adapter = wrap_model(m, source=f"<{type(m).__name__} object>")
                out.append(LoadedModel(type(m).__name__, adapter.bounded(timeout, isolate)))
        return _unique_names(out)
    refs = [(r.name, r) for r in p.models] if p.models else ([(None, p.model)] if p.model else [])
    for name, ref in refs:
        f = lp.resolve(ref.path)
        # Trust comes from the person running the audit (``trust``), never from the policy.
        adapter = load_model(f, entrypoint=ref.entrypoint, trust=trust, batch_size=ref.batch_size,
                             mlflow=ref.mlflow, onnx=ref.onnx, trust_types=trust_types)
        label = name or (f.stem if f else ref.entrypoint or ref.mlflow)
        out.append(LoadedModel(label, adapter.bounded(*_bounds(ref)), f))
    return _unique_names(out) or [LoadedModel(None, None)]


def _bounds(ref) -> tuple[float, bool]:
    """(time budget of one call, isolate) of a policy's model block (defaults without one)."""
    if ref is None:
        return DEFAULT_TIMEOUT_S, False
    return ref.timeout_s, ref.isolate


def _unique_names(models: list[LoadedModel]) -> list[LoadedModel]:
    # Two candidates with one label (two files named model.skops) are told apart by a suffix.
    seen: dict[str, int] = {}
    for m in models:
        if m.name is None:
            continue
        k = seen.get(m.name, 0)
        seen[m.name] = k + 1
        if k:
            m.name = f"{m.name}-{k + 1}"
    return models


def model_manifest(m: LoadedModel, p) -> dict:
    """The manifest's ``files.model`` entry of one model."""
    from audit.models.loading import model_manifest as adapter_manifest

    if m.adapter is None:
        return {"source": "predictions-only", "prediction_column": p.data.prediction, "score_column": p.data.score}
    entry = {"name": m.name, **adapter_manifest(m.adapter)}
    if entry.get("sha256") is None and m.file is not None and m.file.is_file():
        entry["sha256"] = file_sha256(m.file)
    return entry


@dataclass
class AuditInputs:
    """What every model's audit shares (see the module docstring)."""

    source: object
    parts: list[Partition]
    columns: Columns
    types: dict
    sample: Dataset
    n_rows: int
    task: str
    classes: np.ndarray
    table: TableInfo
    files: dict
    first: dict  # merged sample pass: rows, counts, extremes, strata
    pos_label_rule: str = ""  # how the positive class was chosen (the manifest says)


def frame_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's values, column names and dtypes (for the manifest)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def open_data(data) -> object:
    """A :class:`~audit.data.sources.TableSource` for a path, a FrameSource for a DataFrame."""
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise DataError("<DataFrame>: the data is empty (0 rows)")
        return FrameSource(data.reset_index(drop=True))
    return open_source(data)


def data_digest(data) -> Callable[[], str] | None:
    """Start hashing the data's files for the manifest (:func:`table_sha256`) on a thread.

    Hashing takes about 0.12 s of one core per 1M rows. Started before the models load, which
    runs mostly on one core, it takes a core that would otherwise wait instead of adding to the
    sample pass. Returns a function that waits for the digest, or None where
    :func:`prepare_inputs` hashes in its turn: a DataFrame, or files the data's checks will
    report (only regular files are ever read on the thread).
    """
    if isinstance(data, pd.DataFrame):
        return None
    try:
        files = data_files(data)
    except Exception:  # noqa: BLE001 - read_schema reports it, after the models' own errors
        return None
    box: dict = {}

    def work() -> None:
        try:
            box["sha256"] = table_sha256(data, files)
        except Exception as exc:  # noqa: BLE001 - raised where the digest is read
            box["error"] = exc

    thread = threading.Thread(target=work, name="audit-data-sha256", daemon=True)
    thread.start()

    def result() -> str:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["sha256"]

    return result


def _head_task(p, source, cols: Columns) -> str:
    if p.task is not None:
        return p.task
    head = read_partition(source, Partition(0, 0, min(source.n_rows, 2_000)), [cols.target])
    return infer_task(head[cols.target])


def _verify_target(first: dict, cols: Columns, task: str, location: str, target_dtype) -> None:
    counts = first["counts"].get(cols.target)
    if counts is not None and counts.get(MISSING):
        raise DataError(f"{location}: target column {cols.target!r} has {counts[MISSING]} missing value(s); "
                        "expected a value on every row")
    if task == "classification":
        if counts is None or (len(counts) > 20 and pd.api.types.is_numeric_dtype(target_dtype)):
            raise DataError(f"{location}: target column {cols.target!r} has more than "
                            f"{20 if counts is not None else 1000} distinct values, but its first rows looked "
                            "like classes; set `task: regression` (or `task: classification`) in the policy")
        if len(counts) < 2:
            raise DataError(f"{location}: target column {cols.target!r} has one class ({next(iter(counts))!r}); "
                            "expected at least two to audit a classifier")
        lo, hi = first["extremes"].get(cols.score, (0.0, 1.0)) if cols.score else (0.0, 1.0)
        if lo < 0 or hi > 1:
            raise DataError(f"{location}: score column {cols.score!r} ranges over [{lo}, {hi}]; "
                            "expected probabilities in [0, 1]")


def sample_pass(executor, source, parts, cols: Columns, types: dict, task: str, seed: int,
                sample_rows: int, progress, max_vocab: int = MAX_VOCAB) -> dict:
    """Pass 1 over every partition: exact counts and the stratified sample (widening its threshold
    until every stratum's allocation is met from keys under it)."""
    n = source.n_rows
    k = min(sample_rows, n)
    strata = strata_of(cols.target, cols.sensitive, task == "classification")
    counted = list(dict.fromkeys([*cols.sensitive, cols.target, *([cols.prediction] if cols.prediction else []),
                                  *[c for c, t in types.items() if t == "categorical"]]))
    numeric = [c for c, t in types.items() if t != "categorical"]
    numeric += [c for c in (cols.score,) if c is not None]
    if task == "regression":
        numeric.append(cols.target)
    threshold = 1.0 if k >= n else min(1.0, 1.5 * k / n)
    for _ in range(8):
        job = SampleJob(cols.all, strata, counted, numeric, seed, threshold, FLOOR, max_vocab, cols.weight)
        with progress(len(parts), "pass 1/2: counts and sample") as advance:
            merged = merge_sample_pass(executor.map(sample_task, source, parts, job), job,
                                       lambda: advance("partitions", 1))
        sample = select_sample(merged, k, n, threshold)
        if sample is not None:
            merged["sample"] = sample
            return merged
        threshold = min(1.0, threshold * 2)  # a stratum fell short of its allocation: widen, reread
    raise RuntimeError("could not draw the stratified sample")  # unreachable: threshold reaches 1


def _classes(first: dict, sample: Dataset, cols: Columns, task: str, models) -> np.ndarray:
    if task != "classification":
        return np.asarray([])
    like = pd.Series(sample.y)
    names = [v for v in first["counts"][cols.target] if v != MISSING]
    if cols.prediction is not None and first["counts"].get(cols.prediction):
        names += [v for v in first["counts"][cols.prediction] if v != MISSING and v not in names]
    values = typed_values(names, like)
    for m in models:
        c = getattr(m.adapter, "classes_", None) if m.adapter is not None else None
        if c is not None:
            seen = {str(v) for v in values}
            values += [v for v in np.asarray(c).tolist() if str(v) not in seen]
    try:
        return np.asarray(sorted(set(values)))
    except TypeError:  # mixed types: sort by name
        return np.asarray(sorted(set(values), key=str), dtype=object)


def prepare_inputs(lp, *, data, reference, executor, partition_rows: int | None, sample_rows: int, seed: int,
                   models, progress, digest: Callable[[], str] | None = None) -> AuditInputs:
    """Open the data, run the sample pass, and describe the table (see the module docstring).

    ``partition_rows=None`` makes one partition (the in-memory executor). ``digest``: the data's
    SHA-256 already being computed (:func:`data_digest`); None hashes the files here.
    """
    p = lp.policy
    # Every name the policy gives, against the data's schema, before a row is read.
    schema = read_schema(data)
    found = _collector(lp)
    check_schema(lp.document, found, schema, None if reference is None else read_schema(reference, "reference"))
    if found.problems:
        raise PolicyError(str(lp.path), found.problems)
    source = open_data(data)
    location = source.location
    cols = data_columns(p.data, list(source.columns), location)
    parts = [whole(source)] if partition_rows is None else partitions(source, partition_rows)
    head = read_partition(source, Partition(0, 0, min(source.n_rows, 2_000)), cols.all)
    types = infer_feature_types(head[cols.features])
    task = _head_task(p, source, cols)
    vocab = max(MAX_VOCAB, p.execution.max_groups)
    first = sample_pass(executor, source, parts, cols, types, task, seed, sample_rows, progress, vocab)
    # Every group and label the policy names, against the exact counts, before any set is built.
    problems = check_values(lp, first["counts"], cols, task, schema, vocab)
    if problems:
        raise PolicyError(str(lp.path), problems)
    _verify_target(first, cols, task, location, head[cols.target].dtype)
    if cols.weight is not None:
        from audit.data.weights import weight_error

        bad = weight_error(first["weights"], cols.weight, location)
        if bad:
            raise DataError(bad)
    ref = reference if isinstance(reference, pd.DataFrame) else (None if reference is None else Path(reference))
    frame = first["sample"]
    rows = frame.index.to_numpy(dtype=np.int64)
    sample, _ = dataset_from_frame(frame.reset_index(drop=True), location, target=cols.target,
                                   sensitive=cols.sensitive, features=cols.features, prediction=cols.prediction,
                                   score=cols.score, reference=ref, task=task, weight=cols.weight)
    sample.rows = rows
    if len(frame) < int(first["rows"]):  # a stratified sample: each row stands for N_h / n_h rows
        from audit.passes import inclusion_weights

        sample.design_weight = inclusion_weights(first, frame)
    sample.feature_types = types
    if sample.reference is not None:
        sample.reference.feature_types = types
    n = int(first["rows"])
    ref_X = sample.reference.X if sample.reference is not None else None
    stats = table_stats(sample.X, n, first["counts"], first["extremes"], types, cols.target, ref_X)
    declared = dict(p.constraints)
    constraints = resolve_constraints(sample.X, types, declared, ref_X, ranges=stats.ranges, vocab=stats.vocab)
    classes = _classes(first, sample, cols, task, models)
    pos_label, rule = _positive(p.pos_label, classes, first["counts"].get(cols.target) or {}, task)
    table = TableInfo(feature_types=types, constraints=constraints, declared_constraints=declared,
                      pos_label=pos_label, seed=seed, stats=stats)
    files = {"policy": {"path": str(lp.path), "sha256": lp.sha256}, "data": _data_file(data, source, n, digest)}
    if sample.reference is not None:
        files["reference"] = _reference_file(reference, sample.reference.n_rows)
    # Every model answers a probe batch: one that raises, hangs or breaks the output contract
    # stops the audit here (exit code 2), before any set is predicted.
    probe_models(models, sample.X, task, classes)
    return AuditInputs(source, parts, cols, types, sample, n, task, classes, table, files, first, rule)


def _collector(lp) -> Collector:
    c = getattr(lp, "collector", None)
    return Collector([], []) if c is None else Collector(c.files, c.lines, c.origins)


def _positive(pos, classes: np.ndarray, target_counts: dict, task: str):
    """The positive class as the data types it, and the rule that chose it (see positive_label)."""
    if task != "classification":
        return None, ""
    names = [str(c) for c in classes if str(c) in target_counts] or [str(c) for c in classes]
    name, rule = positive_label(pos, names)
    if pos is not None:
        return pos, rule
    typed = [c for c in classes if str(c) == name]
    return (typed[0] if typed else (classes[-1] if len(classes) else None)), rule


def _data_file(data, source, n: int, digest=None) -> dict:
    if isinstance(data, pd.DataFrame):
        return {"path": "<DataFrame>", "sha256": frame_sha256(data), "rows": n}
    sha = digest() if digest is not None else table_sha256(source.location)
    out = {"path": source.location, "sha256": sha, "rows": n}
    if len(source.pieces) > 1:
        out["files"] = len(source.pieces)
    return out


def _reference_file(reference, rows: int) -> dict:
    if isinstance(reference, pd.DataFrame):
        return {"path": "<DataFrame>", "sha256": frame_sha256(reference), "rows": rows}
    return {"path": str(reference), "sha256": table_sha256(reference), "rows": rows}

