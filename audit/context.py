"""What a check sees of the audit: evaluation sets, predictions, settings, seeds.

:class:`AuditContext` is built once per audit by the runner. It builds each
evaluation set lazily and once, and predicts each once, in batches, timed;
any number of checks then share them. :class:`CheckContext` is the view one
check gets: the same caches plus the evaluation set and seed of that check.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit.constraints import FeatureConstraint
from audit.data.dataset import Dataset
from audit.errors import CheckSkipped
from audit.evalsets._base import (
    EvalSetSpec,
    EvaluationSet,
    derive_seed,
    get_builder,
    parse_evalset_name,
)
from audit.models.adapter import ModelAdapter, Predictions

__all__ = ["AuditSettings", "AuditContext", "CheckContext"]


@dataclass(frozen=True)
class AuditSettings:
    """Policy-wide settings every check may read."""

    seed: int = 0
    confidence: float = 0.95
    n_boot: int = 1000
    min_group_size: int = 30
    task: str = "classification"
    pos_label: Any = None


@dataclass
class AuditContext:
    """Shared state of one audit run (caches are keyed by evaluation-set name)."""

    settings: AuditSettings
    dataset: Dataset
    model: ModelAdapter | None
    constraints: dict[str, FeatureConstraint] = field(default_factory=dict)
    declared_constraints: dict[str, FeatureConstraint] = field(default_factory=dict)
    evalset_specs: dict[str, EvalSetSpec] = field(default_factory=dict)
    _caches: dict[str, dict] = field(default_factory=dict)
    _sets: dict[str, EvaluationSet] = field(default_factory=dict)
    _preds: dict[str, Predictions] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    # A streamed audit (audit.scale): merged summaries of the whole table, and the policy
    # positions of the checks that read them; the rest run on ``dataset`` (the sample).
    streamed: Any = None

    # -- settings --------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def task(self) -> str:
        return self.settings.task

    @property
    def classes(self) -> np.ndarray | None:
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
        return None if c is None else c[-1]

    def rng(self, *salt: object) -> np.random.Generator:
        """A generator seeded from the run seed and ``salt`` (same salt, same stream)."""
        return np.random.default_rng(derive_seed(self.seed, *salt))

    # -- evaluation sets -------------------------------------------------------
    def resolve(self, name: str) -> EvalSetSpec:
        """The spec for an evaluation-set name: a policy-defined set or ``kind@severity``."""
        if name in self.evalset_specs:
            return self.evalset_specs[name]
        kind, sev = parse_evalset_name(name)
        return EvalSetSpec(name=name, kind=kind, severity=sev)

    def evalset(self, name: str = "base") -> EvaluationSet:
        """Build (once) and return the evaluation set ``name``."""
        with self._lock:
            if name in self._sets:
                return self._sets[name]
            es = self._build(name)
            self._sets[name] = es
            return es

    def _build(self, name: str) -> EvaluationSet:
        if name == "base":
            d = self.dataset
            return EvaluationSet(
                name="base", kind="base", X=d.X, y=d.y, sensitive=d.sensitive,
                source_index=np.arange(d.n_rows), description=f"The held-out data as given ({Path(d.source).name}).",
                prediction=d.prediction, score=d.score,
            )
        spec = self.resolve(name)
        try:
            builder = get_builder(spec.kind)
        except KeyError:
            raise CheckSkipped(f"no evaluation-set builder for kind {spec.kind!r}") from None
        if builder.needs_model and self.model is None:
            raise CheckSkipped(f"evaluation set {name!r} needs a live model; this is a predictions-only audit")
        params = builder.params.model_validate(spec.params)
        seed = derive_seed(self.seed, "evalset", name)
        t0 = time.perf_counter()
        es = builder.func(self, self.evalset("base"), params, spec.severity, np.random.default_rng(seed))
        es.name, es.seed = name, seed
        es.params = {**params.model_dump(), **({"severity": spec.severity} if spec.severity is not None else {})}
        self.timings.setdefault(name, {})["build_s"] = time.perf_counter() - t0
        return es

    def predictions(self, name: str = "base") -> Predictions:
        """Predict the evaluation set ``name`` once (batched, timed) and cache it.

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
                p = self.model.predict_all(es.X, self.task)
                self.timings.setdefault(name, {})["predict_s"] = p.duration_s
            # Every check reading ``.score`` then gets the policy's positive class.
            p.pos_label = self.pos_label
            self._preds[name] = p
            return p

    def cache(self, name: str) -> dict:
        """A per-audit cache shared by the checks of one family (profiles, detector scores,
        attack results), so work two checks share is done once. Guard writes with ``_lock``."""
        with self._lock:
            return self._caches.setdefault(name, {})

    def built_evalsets(self) -> dict[str, EvaluationSet]:
        return dict(self._sets)

    def for_check(self, check_id: str, evalset: str, index: int) -> CheckContext:
        return CheckContext(self, check_id, evalset, index)


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

    def __init__(self, audit: AuditContext, check_id: str, evalset_name: str, index: int = 0):
        self.audit = audit
        self.check_id = check_id
        self.evalset_name = evalset_name
        self.index = index

    def __getattr__(self, item):
        # settings, dataset, model, constraints, classes, pos_label... come from the audit.
        return getattr(self.audit, item)

    @property
    def summaries(self):
        """Merged summaries of the whole table when this check is streamed, else None (rows in memory)."""
        st = self.audit.streamed
        return st if st is not None and st.covers(self.index) else None

    @property
    def settings(self) -> AuditSettings:
        return self.audit.settings

    def evalset(self, name: str | None = None) -> EvaluationSet:
        return self.audit.evalset(name or self.evalset_name)

    def predictions(self, name: str | None = None) -> Predictions:
        return self.audit.predictions(name or self.evalset_name)

    def rng(self, *salt: object) -> np.random.Generator:
        """Seeded from run seed, check id, evaluation set and position in the policy."""
        return self.audit.rng("check", self.check_id, self.evalset_name, self.index, *salt)
