"""Where each part of an effective policy came from.

A policy may extend baselines (``extends:``); :func:`audit.policy.load_policy`
merges them and returns, beside the merged :class:`~audit.policy.Policy`, a
:class:`Provenance`: which files took part, which file added each check and set
each of its threshold keys, which checks were removed (by whom, why), and which
file set every other value. The models are plain pydantic data, so
``provenance.model_dump(mode="json")`` is JSON for ``results.json`` and the
report, and ``Provenance.model_validate(...)`` reads it back. File names are
relative to the folder of the policy that was loaded, in POSIX form, so a
report says ``org-baseline.yaml`` or ``../shared/org-baseline.yaml``, never a
machine's absolute path. The layout is documented in ``docs/policy.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckOrigin", "Origin", "Provenance", "RemovedCheck", "SourceFile"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Origin(_Record):
    """A place in a policy file."""

    file: str = Field(description="File name, relative to the loaded policy's folder.")
    line: int | None = Field(None, description="1-based line, when known.")


class SourceFile(_Record):
    """One file of the effective policy."""

    name: str = Field(description="Relative to the loaded policy's folder (POSIX).")
    sha256: str = Field(description="SHA-256 of the file's bytes.")
    extends: list[str] = Field(default_factory=list, description="Names of the files it extends.")
    owner: str | None = None
    approved_by: str | None = None
    review_by: date | None = None


class CheckOrigin(_Record):
    """Where one check of the effective policy came from."""

    index: int = Field(description="Position in the effective policy's checks.")
    id: str
    evalset: str = Field(description="Evaluation set (the check's default when the policy gave none).")
    name: str | None = None
    added_by: Origin = Field(description="The file (and line) that first listed the check.")
    changed_by: list[str] = Field(
        default_factory=list, description="Files that overrode some of its keys, in merge order.")
    threshold: dict[str, Origin] = Field(
        default_factory=dict, description="For each threshold key, where its value was set.")
    locked_in: str | None = Field(None, description="The file that locked its threshold, if any.")


class RemovedCheck(_Record):
    """A check of a baseline that a policy extending it removed."""

    id: str
    evalset: str
    name: str | None = None
    reason: str
    removed_by: Origin = Field(description="The 'remove' entry that dropped it.")
    defined_in: Origin = Field(description="Where the removed check was listed.")
    threshold: dict[str, Any] = Field(default_factory=dict, description="Its threshold, as it was.")


class Provenance(_Record):
    """Which file set what in an effective policy.

    Attributes
    ----------
    policy : str
        Name of the loaded policy file.
    files : list of SourceFile
        Every file that took part, in merge order (baselines before the files
        extending them; the loaded policy last).
    checks : list of CheckOrigin
        One per check of the effective policy, in the same order.
    removed : list of RemovedCheck
        Inherited checks that were removed, with the reasons.
    settings : dict
        Dotted key path (``defaults.n_boot``, ``data.sensitive``) of every value
        outside ``checks`` -> where it was set.
    """

    policy: str
    files: list[SourceFile]
    checks: list[CheckOrigin] = Field(default_factory=list)
    removed: list[RemovedCheck] = Field(default_factory=list)
    settings: dict[str, Origin] = Field(default_factory=dict)

    @property
    def inherited(self) -> bool:
        """True when the policy extends at least one baseline."""
        return len(self.files) > 1

    def to_json(self) -> dict:
        """The provenance as JSON-ready plain data (dates as ISO strings)."""
        return self.model_dump(mode="json")
