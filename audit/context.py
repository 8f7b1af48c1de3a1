"""What a check sees of the audit: summaries, the sample's rows, settings, seeds.

:class:`AuditContext` is built once per audited model by the runner. It holds
the rows checks may read (the audit's stratified sample, or in a standalone
context the data it was given), the model, the table description builders
read (:class:`~audit.evalsets.TableInfo`), and :class:`Summaries`: every
summary a check computes from.

A summary of a set built partition by partition over every row comes merged
from the audit's summary pass. A summary of any other set (built on the
sample, or in a standalone context) is computed here, from the context's rows,
by the same functions a partition task runs (:func:`audit.passes.rows_of`,
:func:`audit.stats.summaries.summarise`): the in-memory case of one partition.
A check never knows which.

:class:`CheckContext` is the view one check gets: the same caches plus the
evaluation set and seed of that check.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.data.dataset import Dataset
from audit.errors import CheckError, CheckSkipped
from audit.evalsets import (
    EvalSetSpec,
    EvaluationSet,
    TableInfo,
    base_set,
    build_set,
    get_builder,
    table_stats,
)
from audit.models.adapter import ModelAdapter, Predictions
from audit.passes import row_hashes, rows_of, set_failure
from audit.plan import resolve_evalset
from audit.scale import limited
from audit.stats._seeds import derive_seed
from audit.stats.summaries import (
    DATA_KINDS,
    PAIRED_KINDS,
    WEIGHTED,
    Request,
    SummaryAux,
    category_counts,
    output_values,
    psi_edges,
    summarise,
)

__all__ = ["AuditSettings", "AuditContext", "CheckContext", "Summaries", "describe_frame"]


@dataclass(frozen=True)
class AuditSettings:
    """Policy-wide settings every check may read."""

    seed: int = 0
    confidence: float = 0.95
    n_boot: int = 1000
    min_group_size: int = 30
    task: str = "classification"
    pos_label: Any = None
    population: Any = None  # declared population shares (audit.data.population.Population) or None


class Summaries:
    """Every summary a check reads, by ``(kind, evalset, arg)``; see the module docstring.

    Attributes
    ----------
    classes : ndarray
        Class labels, in the order of every confusion matrix.
    sensitive : list of str
        Sensitive columns, in the order of the fine-cell keys.
    all_columns : list of str
        Features then sensitive-only columns (missing-value counts).
    """

    def __init__(self, ctx: AuditContext, passed=None, partitioned: frozenset = frozenset()):
        self._ctx = ctx
        self._passed = passed
        self._partitioned = partitioned if passed is not None else frozenset()
        self._cache: dict = {}

    @property
    def classes(self) -> np.ndarray:
        return np.asarray(self._ctx.classes) if self._ctx.classes is not None else np.asarray([])

    @property
    def pos_index(self) -> int:
        hits = np.flatnonzero(self.classes == self._ctx.pos_label)
        return int(hits[0]) if hits.size else len(self.classes) - 1

    @property
    def sensitive(self) -> list[str]:
        return list(self._ctx.dataset.sensitive.columns)

    @property
    def all_columns(self) -> list[str]:
        X, s = self._ctx.dataset.X, self._ctx.dataset.sensitive
        return [*X.columns, *[c for c in s.columns if c not in X.columns]]

    def on_all_rows(self, evalset: str) -> bool:
        """Whether ``evalset``'s summaries cover every row of the table (else the context's rows)."""
        return evalset in self._partitioned

    def _failure(self, evalset: str):
        f = self._passed.failed.get(evalset) if self._passed is not None else None
        if f is not None:
            raise (CheckSkipped if f[0] == "skip" else CheckError)(f[1])

    def get(self, kind: str, evalset: str, arg=None):
        """The summary ``kind`` of ``evalset`` (with ``arg``)."""
        req = Request(kind, evalset, arg)
        if evalset in self._partitioned:
            self._failure(evalset)
            try:
                return self._passed.summaries[req]
            except KeyError:
                raise CheckError(f"no {kind} summary of evaluation set {evalset!r} was planned for this "
                                 "check (its declaration and its code disagree)") from None
        with self._ctx._lock:
            if req not in self._cache:
                self._cache[req] = self._compute(req)
            return self._cache[req]

    def _compute(self, req: Request):
        ctx = self._ctx
        r = ctx.rows_for(req.evalset, [req])
        base = ctx.rows_for("base", []) if req.kind in PAIRED_KINDS else None
        return summarise(req, r, base, ctx.aux([req]))

    def rows(self, evalset: str) -> int:
        """Rows of ``evalset`` (over the whole table for a partitioned set)."""
        if evalset in self._partitioned:
            self._failure(evalset)
            return int(self._passed.set_rows[evalset])
        return self._ctx.evalset(evalset).n_rows

    def confusion(self, evalset: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole set's confusion matrix ``[true, predicted]`` and the classes."""
        k = len(self.classes)
        table = self.get("confusion", evalset)
        cm = table.total() if table else np.zeros(k * k, dtype=np.int64)
        return np.asarray(cm).reshape(k, k), self.classes

    # -- weighted audits -----------------------------------------------------------------------
    @property
    def weighted(self) -> bool:
        """Whether the audit weights its rows (``data.weight``)."""
        return self._ctx.weighted

    def weighted_summary(self, kind: str, evalset: str, arg=None):
        """The weighted twin (``w:<kind>``) of a summary; None in an unweighted audit."""
        return self.get(WEIGHTED + kind, evalset, arg) if self.weighted else None

    def tally(self, kind: str, evalset: str, arg=None, size: int | None = None):
        """The whole set's :class:`~audit.stats._weights.Tally` of a cell-table kind (counts, and the
        weight sums when weighted)."""
        from audit.stats._weights import total_tally

        return total_tally(self.get(kind, evalset, arg), self.weighted_summary(kind, evalset, arg), size)

    def group_tally(self, kind: str, evalset: str, cols: list[str], arg=None):
        """``(labels, Tally (n_groups, ...))`` of a cell-table kind summed into the groups of ``cols``."""
        from audit.stats._weights import project_tallies

        return project_tallies(self.get(kind, evalset, arg), self.weighted_summary(kind, evalset, arg),
                               self.sensitive, list(cols))


def describe_frame(frame: pd.DataFrame, target: str | None, sensitive: list[str], feature_types: dict) -> dict:
    """The exact counts and extremes a first pass would return for ``frame`` (one partition)."""
    counted = list(dict.fromkeys([*sensitive, *([target] if target else []),
                                  *[c for c, t in feature_types.items() if t == "categorical"]]))
    counts = {c: category_counts(frame[c]) for c in counted if c in frame.columns}
    extremes = {}
    for c, t in feature_types.items():
        if t != "categorical" and c in frame.columns:
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            extremes[c] = (float(ok.min()), float(ok.max())) if len(ok) else (np.inf, -np.inf)
    return {"rows": len(frame), "counts": counts, "extremes": extremes}


@dataclass
class AuditContext:
    """Shared state of one audit of one model (caches are keyed by evaluation-set name).

    Built by the runner with the audit's sample, table description, plan specs and
    merged summaries; or standalone (tests, notebooks) from a :class:`Dataset`, when it
    describes the table from that data (one partition).
    """

    settings: AuditSettings
    dataset: Dataset
    model: ModelAdapter | None
    constraints: dict = field(default_factory=dict)
    declared_constraints: dict = field(default_factory=dict)
    evalset_specs: dict[str, EvalSetSpec] = field(default_factory=dict)
    table: TableInfo | None = None
    classes_: np.ndarray | None = None
    passed: Any = None  # the merged summary pass (audit.passes.SummaryPass) of this model
    partitioned: frozenset = frozenset()
    shared_sets: dict | None = None  # model-free sets built on the sample, shared by every model
    reference_aux: SummaryAux | None = None
    threads: int | None = None  # native threads per model call (audit.scale.ThreadPlan); None: as configured
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    _caches: dict[str, dict] = field(default_factory=dict)
    _sets: dict[str, EvaluationSet] = field(default_factory=dict)
    _preds: dict[str, Predictions] = field(default_factory=dict)
    _rows: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self):
        if self.table is None:
            self.table = self._describe()
        self.summaries = Summaries(self, self.passed, self.partitioned)

    def _describe(self) -> TableInfo:
        d = self.dataset
        frame = pd.concat([d.X, d.sensitive[[c for c in d.sensitive.columns if c not in d.X.columns]]], axis=1)
        target = d.target if d.y is not None else None
        if target is not None:
            frame = frame.assign(**{target: d.y})
        first = describe_frame(frame, target, list(d.sensitive.columns), d.feature_types)
        ref = d.reference.X if d.reference is not None else None
        stats = table_stats(d.X, first["rows"], first["counts"], first["extremes"], d.feature_types,
                            target or "", ref)
        return TableInfo(feature_types=d.feature_types, constraints=self.constraints,
                         declared_constraints=self.declared_constraints, pos_label=self.pos_label,
                         seed=self.seed, stats=stats)

    # -- settings and table ------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def task(self) -> str:
        return self.settings.task

    @property
    def feature_types(self) -> dict:
        return self.dataset.feature_types

    @property
    def stats(self):
        return self.table.stats

    @property
    def reference(self) -> Dataset | None:
        return self.dataset.reference

    @property
    def classes(self) -> np.ndarray | None:
        if self.task != "classification":
            return None
        if self.classes_ is not None and len(self.classes_):
            return self.classes_
        if self.model is not None and self.model.classes_ is not None:
            return self.model.classes_
        if self.dataset.y is not None and self.task == "classification":
            return np.unique(self.dataset.y)
        return None

    @property
    def pos_label(self):
        """Positive class: the policy's ``pos_label``, else the last class (as scikit-learn)."""
        if self.settings.pos_label is not None:
            return self.settings.pos_label
        c = self.classes
        return None if c is None or not len(c) else c[-1]

    def rng(self, *salt: object) -> np.random.Generator:
        """A generator seeded from the run seed and ``salt`` (same salt, same stream)."""
        return np.random.default_rng(derive_seed(self.seed, *salt))

    # -- evaluation sets (built on the context's rows) ------------------------------------------
    def resolve(self, name: str) -> EvalSetSpec:
        """The spec for an evaluation-set name (see :func:`audit.plan.resolve_evalset`)."""
        try:
            return resolve_evalset(name, self.evalset_specs)
        except KeyError:
            raise CheckSkipped(f"no evaluation-set builder for {name!r}") from None

    def evalset(self, name: str = "base") -> EvaluationSet:
        """Build (once) and return the evaluation set ``name`` on the context's rows."""
        with self._lock:
            if name in self._sets:
                return self._sets[name]
            shared = self.shared_sets if self.shared_sets is not None else {}
            if name in shared:
                es = self._sets[name] = shared[name]
                return es
            es = self._build(name)
            self._sets[name] = es
            if name != "base" and self._model_free(name):
                shared[name] = es
            return es

    def _model_free(self, name: str) -> bool:
        kind = self.resolve(name).kind
        return kind == "reference" or not get_builder(kind).needs_model

    def _build(self, name: str) -> EvaluationSet:
        d = self.dataset
        if name == "base":
            rows = getattr(d, "rows", None)
            rows = np.arange(d.n_rows) if rows is None else rows
            return base_set(d.X.reset_index(drop=True), d.y, d.sensitive.reset_index(drop=True), rows,
                            description=f"The held-out data as given ({Path(d.source).name}).",
                            prediction=d.prediction, score=d.score)
        spec = self.resolve(name)
        kind_needs_ctx = spec.kind == "reference" or get_builder(spec.kind).needs_model
        if spec.kind != "reference" and get_builder(spec.kind).needs_model and self.model is None:
            raise CheckSkipped(f"evaluation set {name!r} needs a live model; this is a predictions-only audit")
        t0 = time.perf_counter()
        try:
            es = build_set(self if kind_needs_ctx else self.table, self.evalset("base"), spec, self.seed)
        except (CheckError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, CheckError):
                raise
            raise CheckError(set_failure(exc, None, name, "build")[1]) from exc
        self.timings.setdefault(name, {})["build_s"] = time.perf_counter() - t0
        return es

    def predictions(self, name: str = "base") -> Predictions:
        """Predict the evaluation set ``name`` once (batched, timed, under ``threads``) and cache it.

        In a predictions-only audit the base set's stored decisions and scores are
        returned; other sets need a live model and raise :class:`CheckSkipped`.
        """
        with self._lock:
            if name in self._preds:
                return self._preds[name]
            es = self.evalset(name)
            if self.model is None:
                if es.prediction is None:
                    raise CheckSkipped(f"predicting evaluation set {name!r} needs a live model; "
                                       "this is a predictions-only audit")
                p = _stored_predictions(es, self.classes, self.pos_label)
            else:
                try:
                    with limited(self.threads):
                        p = self.model.predict_all(es.X, self.task)
                except Exception as exc:  # noqa: BLE001 - the checks reading the set report it
                    kind, msg = set_failure(exc, es, name, "predict")
                    raise (CheckSkipped if kind == "skip" else CheckError)(msg) from exc
                self.timings.setdefault(name, {})["predict_s"] = p.duration_s
            # Every check reading ``.score`` then gets the policy's positive class.
            p.pos_label = self.pos_label
            self._preds[name] = p
            return p

    def set_predictions(self, name: str, preds: Predictions) -> None:
        """Predictions made elsewhere (the summary pass's base predictions of the sample rows)."""
        preds.pos_label = self.pos_label
        self._preds[name] = preds

    def rows_for(self, name: str, requests) -> Any:
        """:class:`~audit.stats.summaries.Rows` of set ``name`` on the context's rows."""
        with self._lock:
            data_only = all(r.kind in DATA_KINDS for r in requests) and requests
            key = (name, tuple(sorted({r.kind for r in requests if r.kind == "dups"})), bool(data_only))
            if key not in self._rows:
                es = self.evalset(name)
                preds = None if data_only else self.predictions(name)
                try:
                    self._rows[key] = rows_of(es, preds, task=self.task, classes=self.classes,
                                              pos_label=self.pos_label, sensitive=list(self.dataset.sensitive.columns),
                                              requests=requests, aux=self.aux(requests),
                                              weights=self.weights_of(es))
                except ValueError as exc:
                    raise CheckError(str(exc)) from exc
            return self._rows[key]

    @property
    def weighted(self) -> bool:
        """Whether the audit weights its rows (``data.weight``)."""
        return self.dataset.weight is not None

    def weights_of(self, es: EvaluationSet, design: bool = False) -> np.ndarray | None:
        """Weights of ``es``'s rows: each row carries its base row's ``data.weight`` (times, with
        ``design``, the stratified sample's inverse inclusion probability, so the sample's rows
        stand for the whole table). None when every row counts once."""
        d = self.dataset
        w = d.weight
        if design and d.design_weight is not None:
            w = d.design_weight if w is None else w * d.design_weight
        if w is None:
            return None
        src = np.asarray(es.source_index, dtype=np.int64)
        rows = getattr(d, "rows", None)
        pos = src if rows is None else np.searchsorted(rows, src)
        return np.asarray(w, dtype=np.float64)[pos]

    def row_weights(self, name: str = "base") -> np.ndarray | None:
        """Weights of the rows a row check reads of set ``name`` (the stratified sample's rows):
        ``data.weight`` times the design weight; None when every row counts once."""
        return self.weights_of(self.evalset(name), design=True)

    def aux(self, requests) -> SummaryAux:
        """Reference-side inputs of ``requests`` (computed once; see :class:`SummaryAux`)."""
        with self._lock:
            a = self.reference_aux
            if a is None:
                a = self.reference_aux = SummaryAux()
            kinds = {r.kind for r in requests}
            ref = self.dataset.reference
            if kinds & {"psi", "score_sketch"} and a.score_unique is None:
                v = self.reference_outputs()
                a.score_unique = np.unique(v[np.isfinite(v)])
            for r in requests:
                if r.kind == "psi" and r.arg not in a.psi_edges:
                    a.psi_edges[r.arg] = psi_edges(self.reference_outputs(), r.arg)
            if "sketch" in kinds and not a.ref_unique:
                if ref is None:
                    raise CheckSkipped("needs reference (training) data; the policy names none (data.reference)")
                for c in self.dataset.X.columns:
                    if c in ref.X.columns:
                        if self.feature_types.get(c) == "categorical":
                            a.ref_unique[c] = None
                        else:
                            v = pd.to_numeric(ref.X[c], errors="coerce").to_numpy(dtype=float)
                            a.ref_unique[c] = np.unique(v[~np.isnan(v)])
            for r in requests:
                if r.kind == "dups" and bool(r.arg) not in a.ref_hashes:
                    self._reference_hashes(a, bool(r.arg))
            return a

    def reference_outputs(self) -> np.ndarray:
        """The model's output on the reference data, as the drift summaries compare it."""
        with self._lock:
            if "reference_outputs" not in self._caches:
                es, preds = self.evalset("reference"), self.predictions("reference")
                r = rows_of(es, preds, task=self.task, classes=self.classes, pos_label=self.pos_label,
                            sensitive=[])
                self._caches["reference_outputs"] = output_values(r)
            return self._caches["reference_outputs"]

    def _reference_hashes(self, a: SummaryAux, with_target: bool) -> None:
        ref = self.dataset.reference
        if ref is None:
            raise CheckSkipped("needs reference (training) data; the policy names none (data.reference)")
        X = self.dataset.X
        cols = [c for c in X.columns if c in ref.X.columns]
        a.ref_columns = cols
        b = ref.X[cols]
        like = X[cols]
        if with_target:
            if ref.y is None or self.dataset.y is None:
                raise CheckSkipped("include_target needs labels in both sets")
            b = b.assign(__y=np.asarray(ref.y))
            like = like.assign(__y=np.asarray(self.dataset.y))
        # Same dtypes on both sides, so equal rows hash equally.
        b = b.astype(like.dtypes.to_dict(), errors="ignore")
        a.ref_hashes[with_target] = np.unique(row_hashes(b))

    def cache(self, name: str) -> dict:
        """A per-audit cache shared by the checks of one family (profiles, detector scores,
        attack results), so work two checks share is done once. Guard writes with ``_lock``."""
        with self._lock:
            return self._caches.setdefault(name, {})

    def built_evalsets(self) -> dict[str, EvaluationSet]:
        return dict(self._sets)

    def for_check(self, check_id: str, evalset: str, index: int = 0, key: str | None = None) -> CheckContext:
        return CheckContext(self, check_id, evalset, index, key)


def _stored_predictions(es: EvaluationSet, classes, pos_label) -> Predictions:
    proba = None
    if es.score is not None:
        s = np.asarray(es.score, dtype=float)
        proba = s
        if s.ndim == 1:
            # A stored 1-D score is the positive class's probability; place it in that class's column.
            pos_first = classes is not None and len(classes) == 2 and classes[0] == pos_label
            proba = np.column_stack([s, 1.0 - s] if pos_first else [1.0 - s, s])
    return Predictions(labels=np.asarray(es.prediction), proba=proba,
                       classes=None if classes is None else np.asarray(classes), stored=True)


class CheckContext:
    """The view of the audit one check gets.

    Attributes
    ----------
    audit : AuditContext
        Shared caches and settings.
    check_id : str
        Id of the running check.
    evalset_name : str
        The evaluation set the policy named for this check.
    """

    def __init__(self, audit: AuditContext, check_id: str, evalset_name: str, index: int = 0,
                 key: str | None = None):
        self.audit = audit
        self.check_id = check_id
        self.evalset_name = evalset_name
        self.index = index
        self.key = key

    def __getattr__(self, item):
        # settings, dataset, model, constraints, classes, pos_label... come from the audit.
        return getattr(self.audit, item)

    @property
    def summaries(self) -> Summaries:
        return self.audit.summaries

    @property
    def settings(self) -> AuditSettings:
        return self.audit.settings

    def evalset(self, name: str | None = None) -> EvaluationSet:
        return self.audit.evalset(name or self.evalset_name)

    def predictions(self, name: str | None = None) -> Predictions:
        return self.audit.predictions(name or self.evalset_name)

    def row_weights(self, name: str | None = None) -> np.ndarray | None:
        return self.audit.row_weights(name or self.evalset_name)

    def rng(self, *salt: object) -> np.random.Generator:
        """Seeded from the run seed and the check's identity: its ``key`` (name and parameters,
        given by the runner), else its position in the policy. With a key, reordering a policy's
        checks (or inheriting them from a baseline) changes no interval."""
        ident = self.index if self.key is None else self.key
        return self.audit.rng("check", self.check_id, self.evalset_name, ident, *salt)

