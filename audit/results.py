"""Results of an audit: verdicts, measurements, check results and the whole audit.

``results.json`` is :class:`AuditResult` dumped with ``model_dump_json(indent=2)``;
its layout is documented in ``docs/results-schema.md``, described by the JSON Schema
:func:`results_json_schema` (shipped as ``audit/schemas/results.schema.json``, printed by
``audit schema --results``) and versioned by :data:`RESULTS_SCHEMA_VERSION`: a new field
is a minor change, a renamed, removed or re-meant field a major one.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, with_config
from typing_extensions import TypedDict

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "DECISIONS",
    "Verdict",
    "Interval",
    "ValueInterval",
    "GroupValue",
    "Measurement",
    "CheckResult",
    "Summary",
    "AuditResult",
    "results_json_schema",
]

# 1.2: summary.reason and summary.headline; typed GroupValue.extra; manifest.run_digest.
RESULTS_SCHEMA_VERSION = "1.2"

#: The machine-readable values of ``summary.decision`` (stable; see docs/results-schema.md).
DECISIONS = ("PASS", "PASS WITH WARNINGS", "FAIL")


class Verdict(StrEnum):
    """Outcome of one check against its threshold."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


def _finite_or_none(v: float | None) -> float | None:
    # JSON has no NaN/inf: an undefined number is recorded as null.
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


class Interval(_Model):
    """A confidence interval.

    Attributes
    ----------
    low, high : float or None
        Bounds; ``None`` where undefined (e.g. every bootstrap replicate undefined).
    level : float
        Confidence level, e.g. 0.95.
    method : str
        How it was computed, e.g. ``"bootstrap-counts"``, ``"bootstrap-binned"``, ``"wilson"`` (every label: docs/methods.md).
    """

    low: float | None
    high: float | None
    level: float = 0.95
    method: str = "bootstrap"

    _fin = field_validator("low", "high", mode="before")(_finite_or_none)


@with_config(ConfigDict(extra="forbid"))
class ValueInterval(TypedDict):
    """A per-group extra with its interval, e.g. a group's TPR: ``{"value", "low", "high"}``.

    A TypedDict, so the Python value stays a plain ``dict`` (renderers read ``x["value"]``);
    pydantic checks its keys and types.
    """

    value: float | None
    low: float | None
    high: float | None


#: What a ``GroupValue.extra`` entry may hold: a flag (``included``, ``flagged``,
#: ``censored``), a count, a number, a label (``partition``, ``test``), a value with its
#: interval, or null. Order matters: pydantic keeps ``True`` a bool and ``3`` an int.
ExtraValue = bool | int | float | str | ValueInterval | None


class GroupValue(_Model):
    """A value measured on one group (a sensitive group, a feature, a severity...).

    ``n`` is the number of rows behind ``value`` (for a rate, its denominator).
    ``small`` marks a group below the minimum size: reported, never hidden.
    ``extra`` holds further per-group facts (:data:`ExtraValue`: e.g. base rate, TPR and
    FPR with intervals, the partition's name, whether the group was included).
    """

    group: str
    n: int = Field(ge=0)
    value: float | None = None
    interval: Interval | None = None
    small: bool = False
    extra: dict[str, ExtraValue] = Field(default_factory=dict)

    @field_validator("extra", mode="before")
    @classmethod
    def _plain_extra(cls, v):
        # numpy scalars (np.bool_, np.int64, np.float64) become Python ones, so the union
        # above keeps their kind; a non-finite float becomes null, as everywhere in results.json.
        if not isinstance(v, dict):
            return v
        out = {}
        for k, x in v.items():
            if hasattr(x, "item") and not isinstance(x, dict):
                x = x.item()
            if isinstance(x, dict):
                x = {kk: _finite_or_none(vv) if isinstance(vv, float | int) and not isinstance(vv, bool)
                     else vv for kk, vv in x.items()}
            elif isinstance(x, float) and not math.isfinite(x):
                x = None
            out[k] = x
        return out

    _fin = field_validator("value", mode="before")(_finite_or_none)


class Measurement(_Model):
    """What a check measured; thresholds and verdicts are applied by the runner.

    Attributes
    ----------
    value : float or None
        The number compared with the policy's threshold.
    interval : Interval or None
        Its confidence interval.
    n : int or None
        Number of rows (or samples) the value rests on; compared with ``min_samples``.
    groups : list of GroupValue
        Per-group breakdown, if any.
    inconclusive : str or None
        Set by the check when the evidence is insufficient (e.g. a group below
        ``min_group_size``); the verdict is then INCONCLUSIVE with this reason.
    message : str
        One sentence for the report.
    details : dict
        Renderer-neutral extras: ``{"tables": [...], "charts": [...], ...}``;
        see ``docs/results-schema.md`` for the table and chart layouts.
    """

    value: float | None = None
    interval: Interval | None = None
    n: int | None = None
    groups: list[GroupValue] = Field(default_factory=list)
    inconclusive: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)

    _fin = field_validator("value", mode="before")(_finite_or_none)


class CheckResult(_Model):
    """One check of the policy, run on one evaluation set, with its verdict.

    ``direction`` (``"higher"``/``"lower"`` is better, or None) and ``unit`` make the
    result self-describing: comparing two results.json files needs nothing else.
    """

    id: str
    name: str
    family: str
    evalset: str
    direction: Literal["higher", "lower"] | None = None
    unit: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: dict[str, Any] = Field(default_factory=dict)
    blocking: bool = True
    reference: str | None = None
    verdict: Verdict
    value: float | None = None
    interval: Interval | None = None
    n: int | None = None
    groups: list[GroupValue] = Field(default_factory=list)
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0
    error: dict[str, str] | None = None
    baseline: dict[str, Any] | None = None

    _fin = field_validator("value", mode="before")(_finite_or_none)


class Summary(_Model):
    """Counts per verdict, the overall decision, the rule that decided it and the exit code.

    Attributes
    ----------
    counts : dict
        Verdict -> number of checks (every verdict present, zeros included).
    decision : {"PASS", "PASS WITH WARNINGS", "FAIL"}
        Machine-readable and stable (:data:`DECISIONS`). ``FAIL``: a blocking check failed
        or errored (or was INCONCLUSIVE where the policy says inconclusive fails).
        ``PASS WITH WARNINGS``: nothing blocking failed, and some check is WARN or a
        non-blocking FAIL/ERROR. ``PASS``: otherwise (INCONCLUSIVE and SKIPPED checks
        that do not gate leave the decision at PASS; ``headline`` and ``reason`` say so).
    headline : str
        The decision as a reader should see it, e.g. ``"PASS (3 INCONCLUSIVE)"``.
    reason : str
        Which rule decided, e.g. ``"2 blocking checks failed"``.
    exit_code : int
        0 no blocking failure, 1 a blocking failure.
    blocking_failures : list of str
        The blocking checks that caused ``FAIL``, as ``name [evalset]``.
    """

    counts: dict[str, int]
    decision: Literal["PASS", "PASS WITH WARNINGS", "FAIL"]
    headline: str = ""
    reason: str = ""
    exit_code: int
    blocking_failures: list[str] = Field(default_factory=list)


class AuditResult(_Model):
    """The whole audit: what ``results.json`` holds."""

    schema_version: str = RESULTS_SCHEMA_VERSION
    policy_name: str
    manifest: dict[str, Any]
    evalsets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    results: list[CheckResult]
    summary: Summary
    policy_text: str = ""


def results_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``results.json``, generated from :class:`AuditResult`.

    The same document ships as ``audit/schemas/results.schema.json`` (a test keeps the
    two equal) and is printed by ``audit schema --results``.
    """
    schema = AuditResult.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:audit:results-schema:{RESULTS_SCHEMA_VERSION}",
            **schema}
