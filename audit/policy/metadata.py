"""Governance metadata of a policy: owner, approval, review date, frameworks."""

from __future__ import annotations

from datetime import date, datetime

from audit.policy.schema import FRAMEWORKS, Policy

__all__ = ["FRAMEWORKS", "review_overdue"]


def review_overdue(policy: Policy, today: date) -> bool:
    """Whether the policy's ``review_by`` date has passed.

    Parameters
    ----------
    policy : Policy
        A validated policy (``LoadedPolicy.policy``).
    today : datetime.date
        The date to judge against (passed in, so results are reproducible).

    Returns
    -------
    bool
        True when ``review_by`` is set and ``today`` is after it; a policy is
        still in date on its ``review_by`` day. False when no date is set.
    """
    if isinstance(today, datetime) or not isinstance(today, date):
        raise TypeError(f"today must be a datetime.date; found {type(today).__name__} {today!r}")
    return policy.review_by is not None and today > policy.review_by
