"""The policy format, version 1, as pydantic models.

Every model forbids unknown keys, so a misspelt key is an error, not a silent
default. ``audit schema`` prints :func:`policy_json_schema` for editors.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from audit.constraints import FeatureConstraint
from audit.models.onnx import OnnxOptions

__all__ = [
    "POLICY_VERSION",
    "ModelRef",
    "NamedModelRef",
    "DataRef",
    "Regression",
    "Threshold",
    "CheckEntry",
    "EvalSetDef",
    "Defaults",
    "Policy",
    "policy_json_schema",
]

POLICY_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Strict):
    """Where the model comes from: a file (skops, ONNX, joblib, pickle), a Python entry point, or
    an MLflow model URI."""

    path: str | None = Field(None, description="Model file, relative to the policy file.")
    entrypoint: str | None = Field(None, description="'package.module:attribute' returning the model.")
    mlflow: str | None = Field(
        None,
        description="MLflow model URI: 'models:/<name>/<version>' or 'runs:/<run id>/<path>'. Loading it "
                    "runs code from the model: it needs --trust-model on the command line.")
    trust: bool = Field(False, description="Allow loading pickle/joblib files (they execute code).")
    batch_size: int = Field(65_536, gt=0, description="Rows per call to the model.")
    onnx: OnnxOptions | None = Field(None, description="Inputs and outputs of an .onnx model file.")

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
        if self.mlflow is not None and self.trust:
            # Trust is granted by the person running the audit, never by the file they were given.
            raise ValueError("'trust' cannot be set for an MLflow model: loading it runs code, which only "
                             "--trust-model on the command line can allow")
        if self.onnx is not None and not (self.path or "").lower().endswith(".onnx"):
            raise ValueError(f"'onnx' options apply to a '.onnx' model file; path is {self.path!r}")
        return self


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

    @model_validator(mode="after")
    def _bounds(self):
        if all(v is None for v in (self.min, self.max, self.warn_min, self.warn_max)):
            raise ValueError("give at least one bound: min, max, warn_min or warn_max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.warn_min is not None and self.min is not None and self.warn_min < self.min:
            raise ValueError(f"warn_min ({self.warn_min}) is below min ({self.min}); it can never warn")
        if self.warn_max is not None and self.max is not None and self.warn_max > self.max:
            raise ValueError(f"warn_max ({self.warn_max}) is above max ({self.max}); it can never warn")
        return self


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
        "memory", description="memory: load the whole table; local: stream partitions in this process; "
                              "dask: stream partitions on a Dask cluster (a LocalCluster without 'address').")
    address: str | None = Field(None, description="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
    workers: int | None = Field(None, ge=1, description="Threads (local) or LocalCluster workers (dask); "
                                                        "default: one per core.")
    partition_rows: int = Field(250_000, ge=1_000, description="Rows per partition.")
    sample_rows: int = Field(20_000, ge=100, description="Rows of the stratified sample for the checks "
                                                         "that need rows on one machine.")
    memory_limit: str | None = Field(None, description="Memory limit per LocalCluster worker, e.g. '2GB'.")


class Policy(_Strict):
    """An audit policy, version 1."""

    version: Literal[1]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    description: str = ""
    task: Literal["classification", "regression"] | None = None
    pos_label: Any = None
    seed: int = 0
    model: ModelRef | None = None
    models: list[NamedModelRef] | None = Field(
        None, min_length=1, description="Several candidate models: every check runs on each.")
    data: DataRef
    defaults: Defaults = Field(default_factory=Defaults)
    constraints: dict[str, FeatureConstraint] = Field(default_factory=dict)
    evalsets: dict[str, EvalSetDef] = Field(default_factory=dict)
    checks: list[CheckEntry] = Field(min_length=1)
    execution: Execution = Field(default_factory=Execution)

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
