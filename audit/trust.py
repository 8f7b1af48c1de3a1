"""Who may grant trust to a model that runs code when loaded: the person running the audit.

Loading a pickle or joblib file, or importing an entry point, executes code.
Trust comes only from the command line (``--trust-model``) or from the
environment of the run (``AUDIT_TRUST_MODEL=1``), both set by whoever runs
the audit; never from the policy file, which may come from anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from audit.errors import InputError

__all__ = ["TRUST_ENV", "trust_granted"]

TRUST_ENV = "AUDIT_TRUST_MODEL"
"""Environment variable that grants trust like ``--trust-model`` (``1``/``true``/``yes``)."""

_YES = ("1", "true", "yes")
_NO = ("", "0", "false", "no")


def trust_granted(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the run may load models that execute code.

    Parameters
    ----------
    flag : bool
        ``--trust-model`` was given.
    environ : mapping, optional
        The environment (default ``os.environ``); ``AUDIT_TRUST_MODEL`` set to
        ``1``, ``true`` or ``yes`` (any case) grants trust; unset, empty,
        ``0``, ``false`` or ``no`` does not.

    Raises
    ------
    InputError
        ``AUDIT_TRUST_MODEL`` holds anything else (a typo must not grant or
        silently withhold trust).
    """
    value = (os.environ if environ is None else environ).get(TRUST_ENV, "")
    v = value.strip().lower()
    if v not in _YES + _NO:
        raise InputError(f"{TRUST_ENV}={value!r}: expected 1, true or yes to trust the model "
                         "(0, false, no or unset not to)")
    return bool(flag) or v in _YES
