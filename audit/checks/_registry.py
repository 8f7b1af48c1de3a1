"""The check registry: stable dotted ids mapped to check functions.

A check is a plain function ``f(ctx, params) -> Measurement`` registered with
:func:`register_check`. It declares its parameters as a pydantic model (extra
keys forbidden), what it needs from the audit (a live model, scores, labels,
sensitive columns, reference data) and which tasks it applies to. It holds no
threshold: the policy does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from audit.context import CheckContext
    from audit.results import Measurement

__all__ = [
    "NoParams",
    "CheckSpec",
    "register_check",
    "get_check",
    "all_checks",
    "closest_ids",
    "NEEDS",
    "NotStreamed",
    "register_summaries",
    "summary_requests",
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
    """

    id: str
    func: Callable[[CheckContext, BaseModel], Measurement]
    params: type[BaseModel]
    needs: frozenset[str]
    tasks: frozenset[str]
    description: str
    default_evalset: str = "base"
    higher_is_better: bool | None = None
    extra: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, CheckSpec] = {}


def register_check(
    id: str,
    *,
    params: type[BaseModel] = NoParams,
    needs: set[str] | frozenset[str] = frozenset({"labels"}),
    tasks: set[str] | frozenset[str] = frozenset({"classification", "regression"}),
    default_evalset: str = "base",
    higher_is_better: bool | None = None,
):
    """Register a check function under a stable dotted id.

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


# -- streamed audits ------------------------------------------------------------
# A check that can be computed from mergeable per-partition summaries (see
# audit.scale) declares which ones here: ``requests(evalset, params, ctx)`` returns
# ``[(kind, evalset, arg), ...]`` or raises NotStreamed. In a streamed audit such a
# check reads ``ctx.summaries``; every other check runs on the stratified sample.
_SUMMARIES: dict[str, Callable] = {}


class NotStreamed(Exception):
    """This check, with these parameters, cannot be computed from summaries."""


def register_summaries(id: str, requests: Callable) -> None:
    """Declare the summaries check ``id`` reads in a streamed audit."""
    _SUMMARIES[id] = requests


def summary_requests(id: str) -> Callable | None:
    """The summary declaration of check ``id``, or None (the check runs on the sample)."""
    _load_all()
    return _SUMMARIES.get(id)
