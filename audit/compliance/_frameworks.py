"""Regulatory and standards frameworks, their clauses, and the checks that can evidence them.

The data live in ``frameworks.yaml`` beside this module. A clause lists evidence
items: each item is one thing the clause needs, satisfied by a result of any of
its checks that meets the item's conditions (see :mod:`audit.compliance._matrix`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audit.compliance._load import packaged, read_yaml_model

__all__ = [
    "DISCLAIMER",
    "FRAMEWORK_IDS",
    "STATUSES",
    "Evidence",
    "Clause",
    "NotMapped",
    "Framework",
    "frameworks",
    "load_frameworks",
]

DISCLAIMER = (
    "Evidence support, not legal advice. This matrix maps results of an automated audit to "
    "clauses of laws, guidelines and standards as an aid for people who assess compliance; it "
    "does not establish compliance or non-compliance, it paraphrases rather than quotes the "
    "texts, and several mappings are partial by nature. Read the authentic texts and consult "
    "qualified counsel."
)

# The framework ids a policy may list (`frameworks:`); the order is the matrix's default order.
FRAMEWORK_IDS = ("eu-ai-act", "nyc-ll144", "eeoc-uniform-guidelines", "nist-ai-rmf", "iso-42001")

# Status of a clause in the matrix of one audit result.
STATUSES = {
    "evidenced": "the clause is fully mappable and every evidence item has a result that reached a "
    "verdict (PASS, WARN or FAIL) under the item's conditions",
    "partially": "some evidence items have such a result, or the clause can only be partly "
    "evidenced by an audit run (its coverage is partial)",
    "gap": "no evidence item has such a result in this audit (checks not run, SKIPPED, ERROR, "
    "INCONCLUSIVE, or run with other parameters), or nothing the audit computes evidences "
    "the clause",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Strict):
    """One thing a clause needs, and the check results that can supply it.

    Attributes
    ----------
    what : str
        What this item evidences, e.g. "impact ratio per category".
    checks : list of str
        Check ids or shell-style patterns (``fairness.*``); any one matching result counts.
    params : dict of str to list
        The result's ``params[key]`` must be one of the listed values.
    intersectional : bool
        The result must hold intersectional groups (a group label joining columns with " & ").
    threshold_min_at_least : float or None
        The policy's ``min`` bound must be at least this (e.g. 0.8 for the four-fifths rule).
    threshold_max_at_most : float or None
        The policy's ``max`` bound must be at most this.
    evalset_kinds : list of str
        Prefixes of the evaluation-set kind the result ran on (e.g. ``shifted.``); empty = any.
    """

    what: str = Field(min_length=1)
    checks: list[str] = Field(min_length=1)
    params: dict[str, list[Any]] = Field(default_factory=dict)
    intersectional: bool = False
    threshold_min_at_least: float | None = None
    threshold_max_at_most: float | None = None
    evalset_kinds: list[str] = Field(default_factory=list)


class Clause(_Strict):
    """A clause (article paragraph, section, subcategory or control) of a framework.

    Attributes
    ----------
    id : str
        Stable id within the framework, e.g. ``art10-2-f``.
    clause : str
        Short reference shown in the matrix, e.g. "Art. 10(2)(f)".
    location : str
        Where the clause text is, precise enough to find it.
    requirement : str
        One-sentence paraphrase of what the clause requires.
    coverage : {"full", "partial", "none"}
        How much of the clause an audit run can evidence at best.
    note : str
        What is left to the user, or how to read the evidence.
    evidence : list of Evidence
        Empty exactly when ``coverage`` is ``none``.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    clause: str = Field(min_length=1)
    location: str = Field(min_length=1)
    requirement: str = Field(min_length=1)
    coverage: Literal["full", "partial", "none"]
    note: str = ""
    evidence: list[Evidence] = Field(default_factory=list)

    @model_validator(mode="after")
    def _coverage_matches_evidence(self):
        if self.coverage == "none" and self.evidence:
            raise ValueError(f"clause {self.id!r}: coverage 'none' cannot list evidence")
        if self.coverage != "none" and not self.evidence:
            raise ValueError(
                f"clause {self.id!r}: coverage {self.coverage!r} needs at least one evidence item"
            )
        return self

    def check_patterns(self) -> list[str]:
        """Every check id or pattern the clause's evidence names, in order, once each."""
        return list(dict.fromkeys(p for e in self.evidence for p in e.checks))


class NotMapped(_Strict):
    """A clause deliberately left out of the matrix, with the reason."""

    clause: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Framework(_Strict):
    """A law, guideline or standard and the clauses of it the matrix covers."""

    id: str
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    url: str | None = None
    note: str = ""
    clauses: list[Clause] = Field(min_length=1)
    not_mapped: list[NotMapped] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_clause_ids(self):
        ids = [c.id for c in self.clauses]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"framework {self.id!r}: clause ids repeat: {dup}")
        return self


class _FrameworksFile(_Strict):
    version: int = Field(ge=1, le=1)
    frameworks: list[Framework] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_ids(self):
        ids = [f.id for f in self.frameworks]
        unknown = [i for i in ids if i not in FRAMEWORK_IDS]
        if unknown or len(set(ids)) != len(ids):
            raise ValueError(
                f"framework ids must be unique and among {list(FRAMEWORK_IDS)}; found {ids}"
            )
        return self


def load_frameworks(path: str | Path) -> dict[str, Framework]:
    """Load and validate a frameworks file (the packaged one is :func:`frameworks`).

    Returns
    -------
    dict of str to Framework
        In file order.

    Raises
    ------
    ValueError
        Naming the file and each problem with its key path.
    """
    data = read_yaml_model(path, _FrameworksFile)
    return {f.id: f for f in data.frameworks}


@lru_cache(maxsize=1)
def _packaged() -> dict[str, Framework]:
    return load_frameworks(packaged("frameworks.yaml"))


def frameworks() -> dict[str, Framework]:
    """The packaged frameworks (``audit/compliance/frameworks.yaml``) by id, in matrix order.

    Examples
    --------
    >>> from audit.compliance import frameworks
    >>> [c.clause for c in frameworks()["eeoc-uniform-guidelines"].clauses][1]
    '29 CFR 1607.4(D), four-fifths rule'
    """
    return dict(_packaged())
