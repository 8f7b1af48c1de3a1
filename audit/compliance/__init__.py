"""Compliance content: a methods reference for every check and the data behind it.

- :func:`methods` — the methods catalogue (``methods.yaml``): for every registered check
  what it measures, its formula, estimator, interval method, decision rule, how to read
  it, limitations and citations; and every interval-method label results.json carries.
"""

from audit.compliance._methods import (
    CheckMethod,
    Family,
    IntervalMethod,
    MethodsCatalog,
    load_methods,
    methods,
)

__all__ = [
    "CheckMethod",
    "Family",
    "IntervalMethod",
    "MethodsCatalog",
    "load_methods",
    "methods",
]
