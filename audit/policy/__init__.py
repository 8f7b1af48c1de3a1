"""The policy: schema (pydantic, version 1), bounded YAML, inheritance, loading and errors."""

from audit.policy._yaml import YAML_LIMITS, YamlLimits, YamlProblem, load_yaml, read_yaml
from audit.policy.effective import effective_yaml
from audit.policy.loader import (
    CheckedPolicy,
    LoadedPolicy,
    format_loc,
    load_policy,
    load_policy_data,
    validate_policy,
)
from audit.policy.metadata import review_overdue
from audit.policy.provenance import CheckOrigin, Origin, Provenance, RemovedCheck, SourceFile
from audit.policy.schema import (
    FRAMEWORKS,
    POLICY_VERSION,
    CheckEntry,
    CheckRemoval,
    Constraint,
    DataRef,
    Defaults,
    EvalSetDef,
    ModelRef,
    Policy,
    Regression,
    Threshold,
    policy_json_schema,
)

__all__ = [
    "FRAMEWORKS",
    "POLICY_VERSION",
    "YAML_LIMITS",
    "CheckEntry",
    "CheckedPolicy",
    "CheckOrigin",
    "CheckRemoval",
    "Constraint",
    "DataRef",
    "Defaults",
    "EvalSetDef",
    "LoadedPolicy",
    "ModelRef",
    "Origin",
    "Policy",
    "Provenance",
    "Regression",
    "RemovedCheck",
    "SourceFile",
    "Threshold",
    "YamlLimits",
    "YamlProblem",
    "effective_yaml",
    "format_loc",
    "load_policy",
    "load_policy_data",
    "load_yaml",
    "read_yaml",
    "policy_json_schema",
    "review_overdue",
    "validate_policy",
]
