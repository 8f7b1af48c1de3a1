"""The policy format, version 1, as pydantic models.

Every model forbids unknown keys, so a misspelt key is an error, not a silent
default, and validates strictly: no lax coercion (``'1000'`` is not an
integer, ``'yes'`` is not a boolean, ``1.0`` is not the version ``1``; an
integer where a float is expected is fine). Numbers must be finite (``.nan``
and ``.inf`` are errors) and threshold bounds ordered. ``audit schema`` prints
:func:`policy_json_schema` for editors.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from audit.constraints import FeatureConstraint
from audit.models.onnx import OnnxOptions

__all__ = [
    "FRAMEWORKS",
    "POLICY_VERSION",
    "CheckRemoval",
    "Constraint",
    "ModelRef",
    "NamedModelRef",
    "DataRef",
    "Regression",
    "Threshold",
    "CheckEntry",
    "EvalSetDef",
    "SHARE_TOLERANCE",
    "Defaults",
    "Policy",
    "policy_json_schema",
]

POLICY_VERSION = 1

Framework = Literal["eu-ai-act", "nyc-ll144", "eeoc-uniform-guidelines", "nist-ai-rmf", "iso-42001"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)
"""Regulatory frameworks a policy may declare it serves (``frameworks:``)."""


class _Strict(BaseModel):
    # strict: no lax coercion from strings or floats; allow_inf_nan: bounds must be real numbers.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _exact_version(v: Any) -> Any:
    # Literal[1] alone accepts 1.0 and True (they compare equal to 1).
    if type(v) is not int:
        raise ValueError(f"expected the integer {POLICY_VERSION}; found {v!r} ({type(v).__name__})")
    return v


def _iso_date(v: Any) -> Any:
    # YAML reads an unquoted 2025-06-30 as a date; a quoted one is a string: accept both, but
    # nothing else (a timestamp is not a review date).
    if isinstance(v, datetime):
        raise ValueError(f"expected a date (YYYY-MM-DD), not a timestamp; found {v.isoformat()!r}")
    if isinstance(v, date) or v is None:
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        try:
            return date.fromisoformat(v)
        except ValueError as exc:
            raise ValueError(f"expected an ISO date (YYYY-MM-DD); found {v!r}: {exc}") from None
    raise ValueError(f"expected an ISO date (YYYY-MM-DD); found {v!r}")


def _scalar(v: Any) -> Any:
    # A class label is one value; a list here would silently never match a prediction.
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"expected a finite number; found {v!r}")
        return v
    raise ValueError(f"expected a single class label (string, integer, number or boolean); "
                     f"found {type(v).__name__} {v!r}")


Scalar = Annotated[
    Any, PlainValidator(_scalar),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"},
                              {"type": "boolean"}, {"type": "null"}]})]


class ModelRef(_Strict):
    """Where the model comes from: a file (skops, ONNX, joblib, pickle), a Python entry point, or
    an MLflow model URI."""

    path: str | None = Field(None, description="Model file, relative to the policy file.")
    entrypoint: str | None = Field(None, description="'package.module:attribute' returning the model.")
    mlflow: str | None = Field(
        None,
        description="MLflow model URI: 'models:/<name>/<version>' or 'runs:/<run id>/<path>'. Loading it "
                    "runs code from the model: it needs --trust-model on the command line.")
    batch_size: int = Field(65_536, gt=0, description="Rows per call to the model.")
    onnx: OnnxOptions | None = Field(None, description="Inputs and outputs of an .onnx model file.")
    timeout_s: float = Field(
        300.0, gt=0, le=86_400, description="Time budget of one call to the model (one batch of "
        "batch_size rows), in seconds: a call that takes longer is an error naming the budget.")
    isolate: bool = Field(
        False, description="Run the model's calls in a child process, so a crash in native code "
        "(a segfault) becomes an ERROR of the checks that needed them, not a lost audit.")

    @field_validator("mlflow")
    @classmethod
    def _mlflow_uri(cls, v):
        if v is not None and not (v.startswith(("models:/", "runs:/")) and len(v.split(":/", 1)[1]) > 0
                                  and not any(ch.isspace() for ch in v)):
            raise ValueError(f"expected an MLflow model URI 'models:/<name>/<version>' or "
                             f"'runs:/<run id>/<path>'; found {v!r}")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("path", "entrypoint", "mlflow") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'path', 'entrypoint' or 'mlflow'"
                             + (f"; found {given}" if given else ""))
        if self.onnx is not None and not (self.path or "").lower().endswith(".onnx"):
            raise ValueError(f"'onnx' options apply to a '.onnx' model file; path is {self.path!r}")
        return self

    @property
    def trust(self) -> bool:
        """Always False: a policy never grants trust (``--trust-model`` on the command line does)."""
        return False


class NamedModelRef(ModelRef):
    """One of several candidate models, with a name for the side-by-side report."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")


class DataRef(_Strict):
    """The held-out data and how to read it."""

    path: str = Field(description="CSV or Parquet file, relative to the policy file.")
    target: str = Field(description="Target column.")
    features: list[str] | None = Field(
        None, description="Model input columns; default: every column but target, prediction, score "
        "and sensitive columns not listed as features.")
    sensitive: list[str] = Field(default_factory=list, description="Sensitive attribute columns.")
    sensitive_features: bool = Field(
        True, description="With features unset: whether sensitive columns are model inputs too.")
    reference: str | None = Field(None, description="Training or reference sample (CSV or Parquet).")
    prediction: str | None = Field(None, description="Predictions-only: column with the decisions.")
    score: str | None = Field(None, description="Predictions-only: column with positive-class scores.")
    weight: str | None = Field(
        None, description="Column of row weights (e.g. the sampling weights `audit sample` writes): every "
        "metric and interval counts each row this many times. Finite and non-negative; never a feature.")

    @field_validator("features", "sensitive")
    @classmethod
    def _once_each(cls, names):
        # Found by the fuzz suite: a feature listed twice selected a two-column frame where the
        # model adapter expected one column (an internal error instead of a named key).
        seen = set()
        twice = [n for n in names or () if n in seen or seen.add(n)]
        if twice:
            raise ValueError(f"column(s) {sorted(set(twice))!r} listed more than once; expected each column once")
        return names

    @model_validator(mode="after")
    def _weight_column(self):
        if self.weight is not None:
            taken = {"target": self.target, "prediction": self.prediction, "score": self.score}
            clash = [k for k, v in taken.items() if v == self.weight]
            if clash or self.weight in self.sensitive:
                what = clash[0] if clash else "sensitive"
                raise ValueError(f"weight column {self.weight!r} is also the {what} column; "
                                 "expected a column of its own")
            if self.features is not None and self.weight in self.features:
                raise ValueError(f"weight column {self.weight!r} is listed as a feature; weights are never "
                                 "model inputs")
        return self


def _group_name(v: Any) -> Any:
    # A group value as the audit names it (str(value)); YAML reads F as "F" but 1 as an int.
    if isinstance(v, bool | int | str):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        return str(v)
    raise ValueError(f"expected a group value (string or number); found {type(v).__name__} {v!r}")


GroupName = Annotated[str, BeforeValidator(_group_name)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
SHARE_TOLERANCE = 0.01
"""How far declared population shares may sum from 1 (published shares are rounded); they are
rescaled to sum to 1."""


def _population(v: Any) -> Any:
    # Shares per column must sum to 1 (within SHARE_TOLERANCE); a string is a CSV path.
    if isinstance(v, dict):
        for col, shares in v.items():
            if isinstance(shares, dict) and shares and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                           for x in shares.values()):
                total = float(sum(shares.values()))
                if abs(total - 1.0) > SHARE_TOLERANCE:
                    raise ValueError(f"shares of {col!r} sum to {total:g}; expected 1 "
                                     f"(within {SHARE_TOLERANCE:g}; rounded shares are rescaled)")
    return v


Population = Annotated[
    dict[str, Annotated[dict[GroupName, Share], Field(min_length=1)]] | str | None,
    BeforeValidator(_population)]


class Regression(_Strict):
    """How much worse than the baseline a value may get (``--baseline`` audits)."""

    absolute: float | None = Field(None, ge=0)
    relative: float | None = Field(None, ge=0, description="Share of the baseline value, e.g. 0.05.")

    @model_validator(mode="after")
    def _one(self):
        if (self.absolute is None) == (self.relative is None):
            raise ValueError("give exactly one of 'absolute' or 'relative'")
        return self


class Threshold(_Strict):
    """Bounds for a check's value and how to decide.

    With ``decision: interval`` the whole confidence interval must clear a bound
    for PASS (or violate it for FAIL); an interval straddling it is INCONCLUSIVE.
    """

    min: float | None = None
    max: float | None = None
    warn_min: float | None = None
    warn_max: float | None = None
    decision: Literal["point", "interval"] | None = None
    min_samples: int | None = Field(None, ge=1, description="Fewer rows than this gives INCONCLUSIVE.")
    blocking: bool = True
    reference: str | None = Field(None, description="The rule or regulation clause this implements.")
    max_regression: Regression | None = None
    locked: bool = Field(
        False, description="In a baseline: a policy that extends it may tighten this threshold but "
        "not loosen it, change the parameters this check sets, or remove it.")

    @model_validator(mode="after")
    def _bounds(self):
        if all(v is None for v in (self.min, self.max, self.warn_min, self.warn_max)):
            raise ValueError("give at least one bound: min, max, warn_min or warn_max")
        given = [(k, getattr(self, k)) for k in BOUND_ORDER if getattr(self, k) is not None]
        wrong = [_misordered(a, va, b, vb) for i, (a, va) in enumerate(given)
                 for b, vb in given[i + 1:] if va > vb]
        if wrong:
            raise ValueError("; ".join(wrong) + "; bounds must satisfy min <= warn_min <= warn_max <= max")
        return self


BOUND_ORDER = ("min", "warn_min", "warn_max", "max")
"""Bounds of a threshold in the order their values must follow."""


def _misordered(a: str, va: float, b: str, vb: float) -> str:
    # Keep the historical wording for the three cases that were checked before.
    if (a, b) == ("min", "max"):
        return f"min ({va}) is above max ({vb})"
    if (a, b) == ("min", "warn_min"):
        return f"warn_min ({vb}) is below min ({va}); it can never warn"
    if (a, b) == ("warn_max", "max"):
        return f"warn_max ({va}) is above max ({vb}); it can never warn"
    return f"{a} ({va}) is above {b} ({vb}); every value that passes would warn"


class CheckEntry(_Strict):
    """One check the policy runs."""

    id: str = Field(description="Registered check id; see `audit checks`.")
    name: str | None = Field(None, description="Label for the report.")
    evalset: str | None = Field(None, description="Evaluation set; default: the check's own default.")
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: Threshold


class EvalSetDef(_Strict):
    """A named evaluation set."""

    kind: str
    severity: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Constraint(FeatureConstraint):
    """A feature constraint as a policy states it: strict, finite, and of one kind.

    ``categories`` describe a non-numeric feature; ``min``, ``max`` and
    ``integer`` a numeric one: giving both kinds is an error. Whether the
    column really is numeric is checked against the data at run time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    categories: list[bool | int | float | str] | None = Field(
        None, min_length=1, description="Allowed values of a non-numeric feature.")

    @model_validator(mode="after")
    def _one_kind(self):
        if self.categories is not None:
            numeric = [k for k in ("min", "max", "integer") if getattr(self, k) not in (None, False)]
            if numeric:
                raise ValueError(f"categories describe a non-numeric feature, but {numeric} describe a "
                                 "numeric one; give either categories or min/max/integer")
            seen, repeated = [], []
            for c in self.categories:
                # bool is an int and 1 == 1.0 in Python: compare with the type, as the data would.
                key = (type(c).__name__, c)
                if key in seen and c not in repeated:
                    repeated.append(c)
                seen.append(key)
            if repeated:
                raise ValueError(f"categories repeat {repeated}")
        return self


class CheckRemoval(_Strict):
    """A check of a baseline that a policy extending it drops, with the reason (``remove:``)."""

    id: str = Field(description="Id of the inherited check.")
    evalset: str | None = Field(None, description="Its evaluation set, when not the check's default.")
    name: str | None = Field(None, description="Its name, when the baseline gave one.")
    reason: str = Field(min_length=1, pattern=r"\S", description="Why this policy drops the check "
                        "(shown in the report).")


class Defaults(_Strict):
    """Settings shared by every check."""

    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    n_boot: int = Field(1000, ge=50, le=100_000)
    min_group_size: int = Field(30, ge=1)
    decision: Literal["point", "interval"] = "point"
    inconclusive_fails: bool = Field(
        False, description="A blocking INCONCLUSIVE check fails the audit (exit code 1).")


class Execution(_Strict):
    """How the data is processed: in memory, or streamed in partitions (locally or on Dask)."""

    executor: Literal["memory", "local", "dask"] = Field(
        "memory", description="memory: the whole table as one partition in this process; local: partitions on threads; "
                              "dask: stream partitions on a Dask cluster (a LocalCluster without 'address').")
    address: str | None = Field(None, description="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
    workers: int | None = Field(None, ge=1, description="Threads (local) or LocalCluster workers (dask); "
                                                        "default: one per core.")
    partition_rows: int = Field(250_000, ge=1_000, description="Rows per partition.")
    sample_rows: int = Field(20_000, ge=100, description="Rows of the stratified sample for the checks "
                                                         "that need rows on one machine.")
    memory_limit: str | None = Field(
        None, description="Memory limit per LocalCluster worker, e.g. '2GB', '512MiB' or 'auto'.")
    max_groups: int = Field(
        1000, ge=2, le=1_000_000, description="Most distinct values a sensitive column may have: "
        "each is a group of the fairness checks. More is refused before any work.")
    max_columns: int = Field(
        1000, ge=1, le=1_000_000, description="Most columns the audit reads (features, target, "
        "sensitive, prediction and score). More is refused before any work.")
    max_name_length: int = Field(
        256, ge=8, le=100_000, description="Longest column name (and sensitive value) the audit "
        "accepts, in characters.")

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v):
        if v is not None and not re.fullmatch(r"auto|\d+(\.\d+)?\s*([kKMGTP]i?B|B)?", v.strip()):
            raise ValueError(f"expected a memory size such as '2GB', '512MiB' or 'auto'; found {v!r}")
        return v

    @field_validator("address")
    @classmethod
    def _address(cls, v):
        # What distributed accepts: [protocol://]host:port (a port is required to reach a scheduler).
        if v is not None and not re.fullmatch(r"((tcp|tls|inproc|ucx|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+)"
                                              r":\d{1,5}", v):
            raise ValueError(f"expected a Dask scheduler address 'tcp://host:port'; found {v!r}")
        return v


class Policy(_Strict):
    """An audit policy, version 1."""

    version: Annotated[Literal[1], BeforeValidator(_exact_version)]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    description: str = ""
    owner: str | None = Field(None, min_length=1, description="Who answers for this policy.")
    approved_by: str | None = Field(None, min_length=1, description="Who approved this version.")
    review_by: Annotated[date | None, BeforeValidator(_iso_date)] = Field(
        None, description="ISO date (YYYY-MM-DD) by which the policy must be reviewed again.")
    frameworks: list[Framework] = Field(
        default_factory=list, json_schema_extra={"uniqueItems": True},
        description="Regulatory frameworks this policy is meant to evidence.")
    baseline: bool = Field(
        False, description="This file is a baseline, only meant to be extended: it may leave out "
        "data, checks and the model, and does not run on its own. Not inherited.")
    extends: list[str] | None = Field(
        None, min_length=1, description="Baseline policies this one builds on, relative to this file. "
        "load_policy merges them; the effective policy it returns has no 'extends'.")
    remove: list[CheckRemoval] | None = Field(
        None, min_length=1, description="Checks of the baselines this policy drops, each with a reason.")
    task: Literal["classification", "regression"] | None = None
    pos_label: Scalar = Field(None, description="The positive class: one label.")
    seed: int = Field(0, ge=0)
    model: ModelRef | None = None
    models: list[NamedModelRef] | None = Field(
        None, min_length=1, description="Several candidate models: every check runs on each.")
    data: DataRef
    defaults: Defaults = Field(default_factory=Defaults)
    constraints: dict[str, Constraint] = Field(default_factory=dict)
    population: Population = Field(
        None, description="Shares of the sensitive groups in the population the model serves, for "
        "data.representativeness: a mapping column -> {value: share} (each column's shares sum to 1), or "
        "a CSV file (relative to the policy) with sensitive columns and a 'share' column, one row per "
        "combination (joint shares: intersectional groups).")
    evalsets: dict[str, EvalSetDef] = Field(default_factory=dict)
    checks: list[CheckEntry] = Field(min_length=1)
    execution: Execution = Field(default_factory=Execution)

    @field_validator("frameworks")
    @classmethod
    def _unique_frameworks(cls, v: list[str]) -> list[str]:
        repeated = sorted({f for f in v if v.count(f) > 1})
        if repeated:
            raise ValueError(f"frameworks repeat {repeated}")
        return v

    @model_validator(mode="after")
    def _population_columns(self):
        if isinstance(self.population, dict):
            stray = [c for c in self.population if c not in self.data.sensitive]
            if stray:
                raise ValueError(f"population names column(s) {stray} that are not sensitive columns; "
                                 f"data.sensitive is {list(self.data.sensitive)}")
        return self

    @model_validator(mode="after")
    def _one_model_key(self):
        if self.model is not None and self.models is not None:
            raise ValueError("give either 'model' or 'models', not both")
        if self.models is not None:
            names = [m.name for m in self.models]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"model names must be unique; repeated: {dup}")
        return self


def policy_json_schema() -> dict:
    """JSON Schema of the policy format (for editors and CI validation)."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "audit policy, version 1"
    return schema
