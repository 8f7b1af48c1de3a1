"""Evaluation sets: named, seeded tables derived from the base data.

An evaluation set name is ``<kind>[@<severity>]``, e.g. ``base``,
``perturbed.noise@0.2``, ``shifted.covariate``, ``adversarial.pgd@0.1``; the
policy may also define named sets in its ``evalsets:`` block. Builders are
registered per kind with :func:`register_evalset` and called lazily, once per
name, by the audit context.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from audit.context import AuditContext

__all__ = [
    "EvaluationSet",
    "EvalSetSpec",
    "EvalSetBuilder",
    "register_evalset",
    "get_builder",
    "all_builders",
    "parse_evalset_name",
    "derive_seed",
]


def derive_seed(seed: int, *salt: object) -> int:
    """A 32-bit seed derived from the run seed and any labels (stable across runs and machines)."""
    h = zlib.crc32("|".join(str(s) for s in salt).encode())
    return int(np.random.SeedSequence([int(seed), h]).generate_state(1)[0])


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


BuildFunc = Callable[["AuditContext", EvaluationSet, BaseModel, "float | None", np.random.Generator], EvaluationSet]


@dataclass(frozen=True)
class EvalSetBuilder:
    """A registered evaluation-set builder.

    ``func(ctx, base, params, severity, rng) -> EvaluationSet``; the returned set's
    ``name``, ``seed`` and ``params`` are filled in by the context.
    """

    kind: str
    func: BuildFunc
    params: type[BaseModel]
    description: str
    needs_model: bool = False


_BUILDERS: dict[str, EvalSetBuilder] = {}


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def register_evalset(kind: str, *, params: type[BaseModel] = _NoParams, needs_model: bool = False):
    """Register a builder for evaluation sets of ``kind`` (e.g. ``perturbed.noise``)."""
    if params.model_config.get("extra") != "forbid":
        raise ValueError(f"evalset {kind!r}: its params model must set extra='forbid'")

    def deco(func):
        doc = (func.__doc__ or "").strip().splitlines()
        _BUILDERS[kind] = EvalSetBuilder(kind, func, params, doc[0] if doc else "", needs_model)
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
