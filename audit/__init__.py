"""audit: audit machine-learning models for robustness and fairness against a policy.

Run ``audit --help`` for the command line. From Python::

    from audit.runner import run_policy_file
    result = run_policy_file("policies/credit-scoring.yaml")
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("audit")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
