"""The check registry: stable dotted ids mapped to check functions.

A check is a plain function ``f(ctx, params) -> Measurement`` registered with
:func:`register_check`. It declares its parameters as a pydantic model (extra
keys forbidden), what it needs from the audit (a live model, scores, labels,
sensitive columns, reference data), which tasks it applies to, and what it
reads, so the audit plan knows everything before any data is touched:

- ``summaries(evalset, params, view) -> [(kind, evalset, arg), ...]``: the
  mergeable summaries (:mod:`audit.stats.summaries`) it computes from. Such a
  check reads nothing else and gets the same numbers on every executor, from all
  rows of partitionable evaluation sets;
- or, for a check that needs rows on one machine (attacks, detectors, leakage
  probes, latency), ``reads(evalset, params, view) -> [evalset, ...]``: the sets
  it reads rows of, built on the audit's stratified sample.

``view`` answers what a declaration may ask of the policy: the task
(``view.task``) and the kind of a set (``view.kind(name)``). A check holds no
threshold: the policy does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from audit.results import Measurement

__all__ = [
    "NoParams",
    "CheckSpec",
    "register_check",
    "get_check",
    "all_checks",
    "closest_ids",
    "NEEDS",
]

# What a check may need. The runner SKIPs a check whose needs the audit cannot meet.
NEEDS = frozenset({"model", "scores", "labels", "sensitive", "reference"})


class NoParams(BaseModel):
    """Parameters of a check that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class CheckSpec:
    """A registered check.

    Attributes
    ----------
    id : str
        Stable dotted id, e.g. ``performance.accuracy``; the family is the part before the dot.
    func : callable
        ``func(ctx, params) -> Measurement``.
    params : type[BaseModel]
        Pydantic model of the parameters (``extra="forbid"``).
    needs : frozenset of str
        Subset of :data:`NEEDS`.
    tasks : frozenset of str
        ``{"classification"}``, ``{"regression"}`` or both.
    description : str
        One line, from the function's docstring.
    default_evalset : str
        Evaluation set used when the policy names none.
    higher_is_better : bool or None
        Direction of the value, for regression comparisons; None if neither.
    unit : str
        Unit of the value, for reports and comparisons (``""`` for a plain number or share).
    summaries : callable or None
        ``summaries(evalset, params, view) -> [(kind, evalset, arg), ...]``; None (or an empty list
        for some params) for a check that reads rows.
    reads : callable or None
        ``reads(evalset, params, view) -> [evalset, ...]`` for a row check (default: its evalset).
    extras : dict
        Optional library module -> the ``audit`` extra installing it; the plan SKIPs the check,
        naming the extra, when the module is not installed.
    """

    id: str
    # The first argument is an audit.context.CheckContext (the runner's layer, above this one).
    func: Callable[[Any, BaseModel], Measurement]
    params: type[BaseModel]
    needs: frozenset[str]
    tasks: frozenset[str]
    description: str
    default_evalset: str = "base"
    higher_is_better: bool | None = None
    unit: str = ""
    summaries: Callable | None = None
    reads: Callable | None = None
    extra: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def direction(self) -> str | None:
        """``"higher"`` or ``"lower"`` is better, or None."""
        return None if self.higher_is_better is None else ("higher" if self.higher_is_better else "lower")

    def requests(self, evalset: str, params: BaseModel, view) -> list[tuple]:
        """The summaries this check reads with these params (empty: it reads rows)."""
        return [] if self.summaries is None else list(self.summaries(evalset, params, view))

    def evalsets(self, evalset: str, params: BaseModel, view) -> list[str]:
        """Every evaluation set this check reads, through summaries or rows."""
        reqs = self.requests(evalset, params, view)
        if reqs:
            return list(dict.fromkeys(r[1] for r in reqs))
        return list(self.reads(evalset, params, view)) if self.reads is not None else [evalset]


_REGISTRY: dict[str, CheckSpec] = {}


def register_check(
    id: str,
    *,
    params: type[BaseModel] = NoParams,
    needs: set[str] | frozenset[str] = frozenset({"labels"}),
    tasks: set[str] | frozenset[str] = frozenset({"classification", "regression"}),
    default_evalset: str = "base",
    higher_is_better: bool | None = None,
    unit: str = "",
    summaries: Callable | None = None,
    reads: Callable | None = None,
    extras: dict[str, str] | None = None,
):
    """Register a check function under a stable dotted id.

    Give ``summaries`` for a check computed from mergeable summaries, or ``reads``
    (optional) for a check that needs rows; see the module docstring. ``extras`` maps an
    optional library the check imports to the extra that installs it (``{"fairlearn":
    "mitigation"}``): without it the check is SKIPPED naming the extra.

    Examples
    --------
    >>> @register_check("performance.accuracy", tasks={"classification"},
    ...                 higher_is_better=True)  # doctest: +SKIP
    ... def accuracy(ctx, params):
    ...     '''Share of correct predictions.'''
    """
    unknown = set(needs) - NEEDS
    if unknown:
        raise ValueError(f"check {id!r}: unknown needs {sorted(unknown)}; expected a subset of {sorted(NEEDS)}")
    if "." not in id:
        raise ValueError(f"check id {id!r} must be dotted: '<family>.<name>'")
    if params.model_config.get("extra") != "forbid":
        raise ValueError(f"check {id!r}: its params model must set extra='forbid'")

    def deco(func):
        if id in _REGISTRY and _REGISTRY[id].func is not func:
            raise ValueError(f"check id {id!r} is registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        _REGISTRY[id] = CheckSpec(
            id=id,
            func=func,
            params=params,
            needs=frozenset(needs),
            tasks=frozenset(tasks),
            description=doc[0] if doc else "",
            default_evalset=default_evalset,
            higher_is_better=higher_is_better,
            unit=unit,
            summaries=summaries,
            reads=reads,
            extras=dict(extras or {}),
        )
        return func

    return deco


def _load_all() -> None:
    # Importing the package imports every family module, which registers its checks.
    import audit.checks  # noqa: F401


def get_check(id: str) -> CheckSpec:
    """Return the registered check ``id``; raise KeyError if unknown."""
    _load_all()
    return _REGISTRY[id]


def all_checks() -> dict[str, CheckSpec]:
    """Every registered check, sorted by id."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def closest_ids(id: str, n: int = 3) -> list[str]:
    """Registered ids closest to a misspelt one."""
    _load_all()
    return difflib.get_close_matches(id, list(_REGISTRY), n=n, cutoff=0.5)
