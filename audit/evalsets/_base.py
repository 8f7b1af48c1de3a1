"""Evaluation sets: named, seeded tables derived from the base data.

An evaluation set name is ``<kind>[@<severity>]``, e.g. ``base``,
``perturbed.noise@0.2``, ``shifted.covariate``, ``adversarial.pgd@0.1``; the
policy may also define named sets in its ``evalsets:`` block. Builders are
registered per kind with :func:`register_evalset`; there is one builder per kind.

A builder is ``func(env, base, params, severity, seed) -> EvaluationSet``:

- ``env`` is a narrow description of the table (:class:`audit.evalsets.TableInfo`:
  feature types, constraints, positive label, whole-table statistics, run seed); a
  builder that needs the model (``needs_model``) gets the audit context, which
  offers the same attributes plus the model;
- ``base`` is the base rows to derive from: one partition of the table, or the
  audit's stratified sample;
- ``seed`` is the set's own seed (derived from the run seed and the set's name).

A *partitionable* kind builds each row from that row alone (randomness keyed on
the row's global index, whole-table quantities from ``env.stats``), so the rows
it builds on one partition are the rows it would build there on the whole table:
such sets are built partition by partition on every executor. A kind that needs
the whole table at once (a ranking, a shuffle across rows, an attack) declares
``partitionable=False`` and is built on the audit's stratified sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from audit.stats._seeds import derive_seed

if TYPE_CHECKING:
    from audit.evalsets._table import TableInfo

__all__ = [
    "EvaluationSet",
    "EvalSetSpec",
    "EvalSetBuilder",
    "register_evalset",
    "get_builder",
    "all_builders",
    "parse_evalset_name",
    "derive_seed",
    "build_set",
    "base_set",
]


@dataclass
class EvaluationSet:
    """A table to predict and measure on, remembering how it was made.

    Attributes
    ----------
    name : str
        The name checks refer to.
    kind : str
        ``base``, ``perturbed.<what>``, ``shifted.<what>``, ``ood.<what>``, ``adversarial.<attack>``.
    X : DataFrame
        Features in the model's column order.
    y : ndarray or None
        Target for each row.
    sensitive : DataFrame
        Sensitive attributes for each row (same length as X).
    source_index : ndarray of int
        Row positions in the base set each row came from (paired comparisons, flip rates).
    params : dict
        Builder parameters, including severity.
    seed : int or None
        Seed the builder used.
    description : str
        One sentence for the report.
    prediction, score : ndarray or None
        Stored decisions and scores (predictions-only base set).
    meta : dict
        Builder extras (e.g. ``is_ood`` mask, discarded examples, attack used).
    """

    name: str
    kind: str
    X: pd.DataFrame
    y: np.ndarray | None
    sensitive: pd.DataFrame
    source_index: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    description: str = ""
    prediction: np.ndarray | None = None
    score: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.X)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the report and ``results.json``."""
        return {
            "kind": self.kind,
            "params": _jsonable(self.params),
            "seed": self.seed,
            "rows": int(self.n_rows),
            "description": self.description,
            **{k: _jsonable(v) for k, v in self.meta.get("report", {}).items()},
        }


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


class EvalSetSpec(BaseModel):
    """A resolved evaluation-set request: kind, severity and builder parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    severity: float | None = None
    params: dict[str, Any] = {}


BuildFunc = Callable[["TableInfo", EvaluationSet, BaseModel, "float | None", int], EvaluationSet]


@dataclass(frozen=True)
class EvalSetBuilder:
    """A registered evaluation-set builder.

    ``func(env, base, params, severity, seed) -> EvaluationSet`` (see the module
    docstring); the returned set's ``name``, ``seed`` and ``params`` are filled in by
    :func:`build_set`.

    Attributes
    ----------
    partitionable : callable
        ``partitionable(params) -> bool``: whether the set can be built partition by
        partition (rows independent of one another) with these parameters.
    min_severity : float or None
        The smallest severity the kind accepts (None: any finite number, e.g. a shift's
        signed direction); the policy loader refuses a smaller one before any work.
    """

    kind: str
    func: BuildFunc
    params: type[BaseModel]
    description: str
    needs_model: bool = False
    partitionable: Callable[[BaseModel], bool] = lambda params: False
    min_severity: float | None = None


_BUILDERS: dict[str, EvalSetBuilder] = {}


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def register_evalset(kind: str, *, params: type[BaseModel] = _NoParams, needs_model: bool = False,
                     partitionable: bool | Callable[[BaseModel], bool] = False,
                     min_severity: float | None = None):
    """Register the builder of evaluation sets of ``kind`` (e.g. ``perturbed.noise``).

    ``partitionable`` is True, False, or a function of the validated params;
    ``min_severity`` the smallest severity the kind accepts (None: no bound).
    """
    if params.model_config.get("extra") != "forbid":
        raise ValueError(f"evalset {kind!r}: its params model must set extra='forbid'")
    part = partitionable if callable(partitionable) else (lambda p, _v=bool(partitionable): _v)

    def deco(func):
        doc = (func.__doc__ or "").strip().splitlines()
        _BUILDERS[kind] = EvalSetBuilder(kind, func, params, doc[0] if doc else "", needs_model, part, min_severity)
        return func

    return deco


def _load_all() -> None:
    import audit.evalsets  # noqa: F401


def get_builder(kind: str) -> EvalSetBuilder:
    """The builder for ``kind``; KeyError if none is registered."""
    _load_all()
    return _BUILDERS[kind]


def all_builders() -> dict[str, EvalSetBuilder]:
    """Every registered builder, sorted by kind."""
    _load_all()
    return dict(sorted(_BUILDERS.items()))


_NAME = re.compile(r"^(?P<kind>[a-z_]+(?:\.[a-z0-9_]+)*)(?:@(?P<sev>[-+0-9.eE]+))?$")


def parse_evalset_name(name: str) -> tuple[str, float | None]:
    """Split ``perturbed.noise@0.2`` into ``("perturbed.noise", 0.2)``; ValueError if malformed."""
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"evaluation set {name!r} is not of the form '<kind>[@<severity>]'")
    sev = m.group("sev")
    return m.group("kind"), (float(sev) if sev is not None else None)


def build_set(env, base: EvaluationSet, spec: EvalSetSpec, run_seed: int) -> EvaluationSet:
    """Build the evaluation set ``spec`` from ``base`` rows (a partition or the sample).

    Its seed is derived from the run seed and the set's name, so it is the same on
    every executor; ``name``, ``seed`` and ``params`` are filled in here, once.
    """
    builder = get_builder(spec.kind)
    params = builder.params.model_validate(spec.params)
    seed = derive_seed(run_seed, "evalset", spec.name)
    es = builder.func(env, base, params, spec.severity, seed)
    es.name, es.seed = spec.name, seed
    es.params = {**params.model_dump(), **({"severity": spec.severity} if spec.severity is not None else {})}
    return es


def base_set(X: pd.DataFrame, y, sensitive: pd.DataFrame, rows: np.ndarray, *, description: str = "",
             prediction=None, score=None) -> EvaluationSet:
    """The base set of some rows (``rows``: their global row numbers)."""
    return EvaluationSet(name="base", kind="base", X=X, y=y, sensitive=sensitive,
                         source_index=np.asarray(rows, dtype=np.int64), description=description,
                         prediction=prediction, score=score)
