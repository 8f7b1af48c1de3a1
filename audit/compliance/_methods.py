"""The methods catalogue: what each check measures, how, with which interval, and how to read it.

The data live in ``methods.yaml`` beside this module. A check entry inherits its
family's defaults: the family's decision text when it gives none, the family's
limitations before its own, and the family's citations after its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audit.compliance._load import packaged, read_yaml_model

__all__ = [
    "IntervalMethod",
    "Family",
    "CheckMethod",
    "MethodsCatalog",
    "methods",
    "load_methods",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntervalMethod(_Strict):
    """One interval method, keyed in the catalogue by the label results.json carries.

    Attributes
    ----------
    name : str
        Human name, e.g. "Wilson score interval for a proportion".
    what : str
        How it is computed.
    exact_when : str
        When it is exact (or what it equals).
    approximation : str
        Its approximation error and where it can mislead.
    citations : list of str
        Keys into :attr:`MethodsCatalog.citations`.
    """

    name: str = Field(min_length=1)
    what: str = Field(min_length=1)
    exact_when: str = Field(min_length=1)
    approximation: str = Field(min_length=1)
    citations: list[str] = Field(default_factory=list)


class FamilyDefaults(_Strict):
    """What every check of a family inherits."""

    decision: str = Field(min_length=1)
    limitations: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)


class Family(_Strict):
    """A check family (the part of the id before the dot)."""

    title: str = Field(min_length=1)
    intro: str = Field(min_length=1)
    defaults: FamilyDefaults


class _CheckEntry(_Strict):
    # One check as written in the YAML, before the family defaults are applied.
    name: str = Field(min_length=1)
    measures: str = Field(min_length=1)
    formula: str = Field(min_length=1)
    estimator: str = Field(min_length=1)
    intervals: list[str]
    group_intervals: list[str] = Field(default_factory=list)
    how_to_read: str = Field(min_length=1)
    group_value: str | None = None
    decision: str | None = None
    limitations: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)


class CheckMethod(_Strict):
    """The method of one registered check, family defaults applied.

    Attributes
    ----------
    id : str
        The registered check id, e.g. ``fairness.demographic_parity_ratio``.
    family : str
        The part of the id before the dot.
    name : str
        Human name the report uses as the card title, e.g.
        "Impact ratio (demographic parity ratio)".
    measures : str
        What it measures, in one plain sentence.
    formula : str
        The formula, in plain-text notation.
    estimator : str
        How the value is computed from the data.
    intervals : list of str
        Interval labels (``Interval.method``) the check's value can carry; empty when it has none.
    group_intervals : list of str
        Interval labels of its per-group values.
    decision : str
        How the policy's threshold applies, and when the verdict is INCONCLUSIVE.
    how_to_read : str
        One sentence on how to read the value.
    group_value : str or None
        What each entry of the result's ``groups`` holds; None when the check reports no groups.
    limitations : list of str
        Family limitations first, then the check's own.
    citations : list of str
        Keys into :attr:`MethodsCatalog.citations`: the check's own first, then its family's.
    """

    id: str
    family: str
    name: str
    measures: str
    formula: str
    estimator: str
    intervals: list[str]
    group_intervals: list[str]
    decision: str
    how_to_read: str
    group_value: str | None
    limitations: list[str]
    citations: list[str]


class _MethodsFile(_Strict):
    version: int = Field(ge=1, le=1)
    decision_rules: list[str] = Field(min_length=1)
    intervals: dict[str, IntervalMethod]
    families: dict[str, Family]
    checks: dict[str, _CheckEntry]
    citations: dict[str, str]

    @model_validator(mode="after")
    def _references(self):
        problems = []
        for cid, c in self.checks.items():
            fam = cid.split(".", 1)[0]
            if "." not in cid:
                problems.append(f"checks.{cid}: a check id is dotted '<family>.<name>'")
            elif fam not in self.families:
                problems.append(
                    f"checks.{cid}: family {fam!r} has no entry under 'families'; "
                    f"known: {sorted(self.families)}"
                )
            for key in ("intervals", "group_intervals"):
                for label in getattr(c, key):
                    if label not in self.intervals:
                        problems.append(
                            f"checks.{cid}.{key}: interval label {label!r} is not described "
                            f"under 'intervals'; known: {sorted(self.intervals)}"
                        )
            for ref in c.citations:
                if ref not in self.citations:
                    problems.append(f"checks.{cid}.citations: unknown citation key {ref!r}")
        for where, refs in [(f"intervals.{k}", v.citations) for k, v in self.intervals.items()] + [
            (f"families.{k}.defaults", v.defaults.citations) for k, v in self.families.items()
        ]:
            for ref in refs:
                if ref not in self.citations:
                    problems.append(f"{where}.citations: unknown citation key {ref!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class MethodsCatalog(_Strict):
    """Every check's method, every interval method, and the bibliography.

    Attributes
    ----------
    decision_rules : list of str
        How any value becomes a verdict (shared by every check).
    intervals : dict of str to IntervalMethod
        Keyed by the ``Interval.method`` label.
    families : dict of str to Family
    checks : dict of str to CheckMethod
        Keyed by check id, in file order.
    citations : dict of str to str
        Citation key to a full reference.
    """

    decision_rules: list[str]
    intervals: dict[str, IntervalMethod]
    families: dict[str, Family]
    checks: dict[str, CheckMethod]
    citations: dict[str, str]

    def check(self, check_id: str) -> CheckMethod:
        """The method of ``check_id``; KeyError naming the id and the closest known ids."""
        try:
            return self.checks[check_id]
        except KeyError:
            import difflib

            near = difflib.get_close_matches(check_id, list(self.checks), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise KeyError(
                f"no method entry for check {check_id!r} in methods.yaml{hint}"
            ) from None

    def interval(self, label: str) -> IntervalMethod:
        """The interval method written as ``label`` in results.json; KeyError if undescribed."""
        try:
            return self.intervals[label]
        except KeyError:
            raise KeyError(
                f"interval method {label!r} is not described in methods.yaml; "
                f"known: {sorted(self.intervals)}"
            ) from None

    def references(self, keys: list[str]) -> list[str]:
        """Full references for citation ``keys``, in order."""
        return [self.citations[k] for k in keys]


def _resolve(raw: _MethodsFile) -> MethodsCatalog:
    checks = {}
    for cid, c in raw.checks.items():
        fam = cid.split(".", 1)[0]
        d = raw.families[fam].defaults
        cites = list(dict.fromkeys([*c.citations, *d.citations]))
        checks[cid] = CheckMethod(
            id=cid,
            family=fam,
            name=c.name,
            measures=c.measures,
            formula=c.formula,
            estimator=c.estimator,
            intervals=list(c.intervals),
            group_intervals=list(c.group_intervals),
            decision=c.decision or d.decision,
            how_to_read=c.how_to_read,
            group_value=c.group_value,
            limitations=[*d.limitations, *c.limitations],
            citations=cites,
        )
    return MethodsCatalog(
        decision_rules=list(raw.decision_rules),
        intervals=dict(raw.intervals),
        families=dict(raw.families),
        checks=checks,
        citations=dict(raw.citations),
    )


def load_methods(path: str | Path) -> MethodsCatalog:
    """Load and validate a methods file (the packaged one is :func:`methods`).

    Raises
    ------
    ValueError
        Naming the file and each problem: unknown keys, missing fields, an interval
        label or citation key that is not defined.
    """
    return _resolve(read_yaml_model(path, _MethodsFile))


@lru_cache(maxsize=1)
def methods() -> MethodsCatalog:
    """The packaged methods catalogue (``audit/compliance/methods.yaml``), loaded once.

    Examples
    --------
    >>> from audit.compliance import methods
    >>> methods().check("fairness.demographic_parity_ratio").name
    'Impact ratio (demographic parity ratio)'
    """
    return load_methods(packaged("methods.yaml"))
