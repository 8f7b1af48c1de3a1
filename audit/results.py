"""Results of an audit: verdicts, measurements, check results and the whole audit.

``results.json`` is :class:`AuditResult` dumped with ``model_dump(mode="json")``;
its layout is documented in ``docs/results-schema.md`` and versioned by
:data:`RESULTS_SCHEMA_VERSION`. Bump the version on any breaking change.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "Verdict",
    "Interval",
    "GroupValue",
    "Measurement",
    "CheckResult",
    "Summary",
    "AuditResult",
]

RESULTS_SCHEMA_VERSION = "1.1"


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


class GroupValue(_Model):
    """A value measured on one group (a sensitive group, a feature, a severity...).

    ``small`` marks a group below the minimum size: reported, never hidden.
    ``extra`` holds further per-group numbers (e.g. base rate, TPR, FPR with intervals).
    """

    group: str
    n: int
    value: float | None = None
    interval: Interval | None = None
    small: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)

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
    """Counts per verdict, the overall decision and the exit code it implies."""

    counts: dict[str, int]
    decision: str
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
