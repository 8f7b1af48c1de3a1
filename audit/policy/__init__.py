"""The policy: schema (pydantic, version 1), loading and error collection."""

from audit.policy.loader import LoadedPolicy, format_loc, load_policy, load_policy_data
from audit.policy.schema import (
    POLICY_VERSION,
    CheckEntry,
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
    "POLICY_VERSION",
    "CheckEntry",
    "DataRef",
    "Defaults",
    "EvalSetDef",
    "LoadedPolicy",
    "ModelRef",
    "Policy",
    "Regression",
    "Threshold",
    "format_loc",
    "load_policy",
    "load_policy_data",
    "policy_json_schema",
]
