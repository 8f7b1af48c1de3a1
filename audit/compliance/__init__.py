"""Compliance content: a methods reference, a regulation matrix, and their documentation.

- :func:`methods` — the methods catalogue (``methods.yaml``): for every registered check
  what it measures, its formula, estimator, interval method, decision rule, how to read
  it, limitations and citations; and every interval-method label results.json carries.
- :func:`frameworks` — the frameworks and clauses (``frameworks.yaml``): EU AI Act,
  NYC Local Law 144, the EEOC Uniform Guidelines, NIST AI RMF, ISO/IEC 42001.
- :func:`matrix` — per clause, the evidence one :class:`~audit.results.AuditResult`
  holds and a status (evidenced / partially / gap). Show :data:`DISCLAIMER` with it.
- ``python -m audit.compliance docs`` regenerates ``docs/methods.md`` and
  ``docs/compliance.md`` from the YAML files (a test fails when they are stale).
"""

from audit.compliance._frameworks import (
    DISCLAIMER,
    FRAMEWORK_IDS,
    STATUSES,
    Clause,
    Evidence,
    Framework,
    NotMapped,
    frameworks,
    load_frameworks,
)
from audit.compliance._matrix import EVIDENCING_VERDICTS, matrix
from audit.compliance._methods import (
    CheckMethod,
    Family,
    IntervalMethod,
    MethodsCatalog,
    load_methods,
    methods,
)

__all__ = [
    "DISCLAIMER",
    "EVIDENCING_VERDICTS",
    "FRAMEWORK_IDS",
    "STATUSES",
    "CheckMethod",
    "Clause",
    "Evidence",
    "Family",
    "Framework",
    "IntervalMethod",
    "MethodsCatalog",
    "NotMapped",
    "frameworks",
    "load_frameworks",
    "load_methods",
    "matrix",
    "methods",
]
