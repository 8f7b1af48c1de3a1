"""Parameters shared by the fairness checks (pydantic, unknown keys forbidden)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["GroupParams", "DisparityParams", "SelectionRateParams", "CalibrationParams"]


class GroupParams(BaseModel):
    """Which groups to audit and how to treat small groups and missing values."""

    model_config = ConfigDict(extra="forbid")

    sensitive: list[str] | None = Field(
        None, min_length=1,
        description="Sensitive columns to audit; default: every sensitive column of the data.")
    groups: Literal["marginal", "intersectional", "both"] = Field(
        "marginal", description="marginal: each column on its own (value = worst column); "
        "intersectional: every combination of the columns; both: all of these.")
    min_group_size: int | None = Field(
        None, ge=1, description="Fewest rows a group's metric may rest on (its denominator, "
        "e.g. positives for TPR); default: the policy's min_group_size.")
    small_groups: Literal["inconclusive", "exclude"] = Field(
        "inconclusive", description="A group below min_group_size makes the check INCONCLUSIVE, "
        "or is excluded from the value (still reported, flagged, and noted in the message).")
    missing: Literal["group", "error"] = Field(
        "group", description="Missing sensitive values form their own '<missing>' group, or are an error.")


class DisparityParams(GroupParams):
    """Group parameters plus what each group is compared with."""

    compare_to: Literal["best", "worst", "reference"] = Field(
        "best", description="Compare groups with the best group, the worst group or a reference "
        "group. best/worst give max-min for differences and min/max for ratios.")
    reference_group: str | dict[str, str] | None = Field(
        None, description="With compare_to: reference. A label ('sex=M', 'M') or a mapping "
        "column -> value ({sex: M, age_band: 25-44}) naming the reference in every partition.")

    @model_validator(mode="after")
    def _ref(self):
        if self.compare_to == "reference" and self.reference_group is None:
            raise ValueError("compare_to: reference needs reference_group")
        if self.compare_to != "reference" and self.reference_group is not None:
            raise ValueError("reference_group is only used with compare_to: reference")
        return self


class SelectionRateParams(GroupParams):
    """Group parameters plus which extreme the value reports."""

    aggregate: Literal["min", "max"] = Field(
        "min", description="Value = the lowest (min) or highest (max) group selection rate.")


class CalibrationParams(DisparityParams):
    """Disparity parameters plus the ECE binning."""

    n_bins: int = Field(10, ge=2, le=100, description="Equal-width score bins for the ECE.")
