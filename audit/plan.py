"""The audit plan: every check, what it reads and why it may be skipped, decided once.

:func:`build_plan` turns a validated policy and a few facts about the inputs
(the task, whether a live model with probabilities is there, whether reference
data and sensitive columns are) into an immutable :class:`AuditPlan`. Every
executor executes the same plan; nothing registers work while the audit runs.

For each check the plan holds its validated parameters, the evaluation sets it
reads, the summaries it computes from (or that it needs the sample's rows), and
its skip reason. For each evaluation set it holds the resolved spec and where it
is built: partition by partition over every row (a partitionable kind read
through summaries), or once on the audit's stratified sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.checks import CheckSpec, get_check
from audit.evalsets import EvalSetSpec, get_builder, parse_evalset_name
from audit.stats.summaries import PAIRED_KINDS, WEIGHTED, Request

__all__ = ["Facts", "PlanView", "PlannedCheck", "AuditPlan", "build_plan", "resolve_evalset", "missing_extras"]


@dataclass(frozen=True)
class Facts:
    """What the plan needs to know of the inputs (none of it needs the rows)."""

    task: str
    has_model: bool
    has_proba: bool
    has_scores: bool  # a score column (predictions-only) or predict_proba
    has_reference: bool
    sensitive: tuple[str, ...]
    weighted: bool = False  # a weight column: every summary gets its weighted twin (w:<kind>)
    missing_extras: tuple[tuple[str, str], ...] = ()  # (module, extra) of optional libraries not installed


def resolve_evalset(name: str, named: Mapping[str, EvalSetSpec]) -> EvalSetSpec:
    """The spec for an evaluation-set name: ``base``, a policy-named set, ``<named>@<severity>``
    (that set at another severity) or ``<kind>[@<severity>]``. ValueError if malformed,
    KeyError if no builder knows the kind."""
    if name in named:
        return named[name]
    if name == "base":
        return EvalSetSpec(name="base", kind="base")
    stem, _, sev = name.rpartition("@")
    if stem in named and sev:
        s = named[stem]
        return EvalSetSpec(name=name, kind=s.kind, severity=float(sev), params=dict(s.params))
    kind, severity = parse_evalset_name(name)
    get_builder(kind)
    return EvalSetSpec(name=name, kind=kind, severity=severity)


class PlanView:
    """What a check's declaration may ask while the plan is built: the task and set kinds."""

    def __init__(self, task: str, named: Mapping[str, EvalSetSpec]):
        self.task = task
        self._named = named

    def kind(self, name: str) -> str:
        return "base" if name == "base" else resolve_evalset(name, self._named).kind

    def resolve(self, name: str) -> EvalSetSpec:
        return resolve_evalset(name, self._named)

    def named(self, name: str) -> bool:
        """Whether ``name`` is a set the policy's ``evalsets:`` block defines."""
        return name in self._named


@dataclass(frozen=True)
class PlannedCheck:
    """One check of the policy as it will run.

    Attributes
    ----------
    index : int
        Position in the policy (also salts the check's random streams).
    entry : CheckEntry
        The policy's entry (thresholds, name).
    spec : CheckSpec
    params : BaseModel or None
        Validated parameters (None when invalid: see ``error``).
    evalset : str
        The set the check runs on.
    reads : tuple of str
        Every set it reads.
    requests : tuple of Request
        Summaries it computes from (empty for a row check).
    rows : bool
        It needs rows of the stratified sample.
    skip : str or None
        Why it is SKIPPED, decided before any data is read.
    error : str or None
        Why it cannot run (bad parameters, unknown evaluation set): an ERROR result.
    """

    index: int
    entry: Any
    spec: CheckSpec
    params: BaseModel | None
    evalset: str
    reads: tuple[str, ...] = ()
    requests: tuple[Request, ...] = ()
    rows: bool = False
    skip: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class AuditPlan:
    """The immutable plan of one audit (shared by every candidate model and every executor).

    Attributes
    ----------
    checks : tuple of PlannedCheck
    evalsets : mapping
        Name -> EvalSetSpec of every set some check reads (``base`` included).
    partitioned : frozenset of str
        Sets built partition by partition over every row (``base`` always).
    requests : mapping
        Set -> the summaries computed on it, on whichever rows it is built.
    """

    checks: tuple[PlannedCheck, ...]
    evalsets: Mapping[str, EvalSetSpec]
    partitioned: frozenset[str]
    requests: Mapping[str, tuple[Request, ...]]
    task: str

    def on_all_rows(self, check: PlannedCheck) -> bool:
        """Whether the check's numbers come from every row (else: from the stratified sample)."""
        return not check.rows and all(r.evalset in self.partitioned for r in check.requests)

    @property
    def sample_sets(self) -> list[str]:
        """Sets built on the stratified sample (read through rows or through summaries)."""
        return sorted(n for n in self.evalsets if n not in self.partitioned)

    def needs(self, kind: str) -> list[Request]:
        """Every planned request of one summary kind."""
        return [r for reqs in self.requests.values() for r in reqs if r.kind == kind]


def _skip_reason(spec: CheckSpec, facts: Facts) -> str | None:
    if facts.task not in spec.tasks:
        return f"applies to {', '.join(sorted(spec.tasks))} models; this is a {facts.task} audit"
    if "model" in spec.needs and not facts.has_model:
        return "needs a live model; this is a predictions-only audit"
    if "scores" in spec.needs and not facts.has_scores:
        return ("needs scores; the model has no predict_proba" if facts.has_model
                else "needs scores; the data names no score column")
    if "reference" in spec.needs and not facts.has_reference:
        return "needs reference (training) data; the policy names none (data.reference)"
    if "sensitive" in spec.needs and not facts.sensitive:
        return "needs sensitive columns; the policy names none (data.sensitive)"
    for module, extra in spec.extras.items():
        if (module, extra) in facts.missing_extras:
            return (f"needs the optional '{extra}' extra ({module} is not installed); install it with: "
                    f"pip install 'audit[{extra}]'")
    return None


def _plan_check(i: int, entry, named, view: PlanView, facts: Facts) -> PlannedCheck:
    spec = get_check(entry.id)
    evalset = entry.evalset or spec.default_evalset
    base = dict(index=i, entry=entry, spec=spec, evalset=evalset)
    try:
        params = spec.params.model_validate(entry.params)
    except ValidationError as exc:
        return PlannedCheck(**base, params=None, error=f"invalid params: {exc.errors()[0]['msg']}")
    skip = _skip_reason(spec, facts)
    if skip:
        return PlannedCheck(**base, params=params, skip=skip)
    try:
        reqs = tuple(Request(*r) for r in spec.requests(evalset, params, view))
        if facts.weighted:  # every summary next to its weighted twin, which the check reads
            reqs = reqs + tuple(Request(WEIGHTED + r.kind, r.evalset, r.arg) for r in reqs)
        reads = tuple(spec.evalsets(evalset, params, view))
        for name in reads:
            resolve_evalset(name, named)
    except (ValueError, KeyError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        return PlannedCheck(**base, params=params, error=f"cannot plan its evaluation sets: {msg}")
    if not facts.has_model:
        live = [n for n in reads if n not in ("base", "reference")]
        if live:
            return PlannedCheck(**base, params=params, reads=reads,
                                skip=f"evaluation set {live[0]!r} needs a live model; this is a "
                                     "predictions-only audit")
    return PlannedCheck(**base, params=params, reads=reads, requests=reqs, rows=not reqs)


def _partitionable(spec: EvalSetSpec) -> bool:
    if spec.kind == "base":
        return True
    if spec.kind == "reference":
        return False
    b = get_builder(spec.kind)
    if b.needs_model:
        return False
    try:
        return bool(b.partitionable(b.params.model_validate(spec.params)))
    except ValidationError:
        return False  # the build on the sample reports the bad parameters


def missing_extras() -> tuple[tuple[str, str], ...]:
    """(module, extra) of every optional library a registered check declares and that is not
    installed (looked up, not imported)."""
    import importlib.util

    from audit.checks import all_checks

    wanted = {(m, e) for spec in all_checks().values() for m, e in spec.extras.items()}
    return tuple(sorted((m, e) for m, e in wanted if importlib.util.find_spec(m) is None))


def build_plan(policy, facts: Facts) -> AuditPlan:
    """The plan of ``policy`` (a validated :class:`audit.policy.Policy`) for inputs described by ``facts``."""
    named = {n: EvalSetSpec(name=n, kind=d.kind, severity=d.severity, params=dict(d.params))
             for n, d in policy.evalsets.items()}
    view = PlanView(facts.task, named)
    checks = tuple(_plan_check(i, e, named, view, facts) for i, e in enumerate(policy.checks))
    specs: dict[str, EvalSetSpec] = {"base": EvalSetSpec(name="base", kind="base")}
    requests: dict[str, set[Request]] = {"base": set()}
    for c in checks:
        if c.skip or c.error:
            continue
        for name in c.reads:
            specs[name] = resolve_evalset(name, named)
            requests.setdefault(name, set())
        for r in c.requests:
            requests.setdefault(r.evalset, set()).add(r)
            if r.kind in PAIRED_KINDS:
                requests["base"]  # paired summaries pair with the base rows, always present
    # A set is built partition by partition when summaries read it and its kind allows it;
    # a set only row checks read is built on the sample (it is never needed on all rows).
    partitioned = {n for n, s in specs.items() if requests.get(n) and _partitionable(s)} | {"base"}
    return AuditPlan(checks=checks, evalsets=MappingProxyType(specs), partitioned=frozenset(partitioned),
                     requests=MappingProxyType({n: tuple(sorted(r, key=repr)) for n, r in requests.items()}),
                     task=facts.task)
