"""audit: audit machine-learning models for robustness and fairness against a policy.

Run ``audit --help`` for the command line. From Python (see docs/python-api.md)::

    import audit

    result = audit.run("policies/demo.yaml", model=fitted_model, data=holdout_df, reference=train_df)
    result.passed, result.to_dataframe()
    result.write_report("reports/")

Public names: :func:`run`, :func:`run_models`, :func:`load_policy`, :func:`validate`,
:func:`register_check` (the extension point), :class:`Result`, :class:`AuditResult`,
:class:`CheckResult`, :class:`Measurement`, :class:`Verdict`, and the exception root
:class:`AuditError` with :class:`InputError` and :class:`PolicyError`.
"""

from importlib import import_module as _import
from importlib import metadata as _metadata

# Imported on first use (PEP 562), so `audit --help` and `import audit` stay fast.
_LAZY = {
    "run": "audit.api", "run_models": "audit.api", "load_policy": "audit.api", "validate": "audit.api",
    "Result": "audit.api", "register_check": "audit.checks", "AuditError": "audit.errors",
    "InputError": "audit.errors", "PolicyError": "audit.errors", "AuditResult": "audit.results",
    "CheckResult": "audit.results", "Measurement": "audit.results", "Verdict": "audit.results",
}

try:
    __version__ = _metadata.version("audit")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

__all__ = [
    "__version__",
    "run",
    "run_models",
    "load_policy",
    "validate",
    "register_check",
    "Result",
    "AuditResult",
    "CheckResult",
    "Measurement",
    "Verdict",
    "AuditError",
    "InputError",
    "PolicyError",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(_import(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
