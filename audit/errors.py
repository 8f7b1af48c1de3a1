"""Exceptions raised by the audit toolkit.

One root, so a caller can catch everything the toolkit raises on purpose::

    AuditError
    ├── InputError            the inputs were wrong; nothing was audited (exit code 2)
    │   ├── PolicyError       the policy file: bad YAML, unknown keys, bad values (collects every problem)
    │   ├── ModelLoadError    the model could not be loaded
    │   │   └── UntrustedModelError   a pickle/joblib file or entry point without --trust-model
    │   ├── ModelCallError    the model broke its contract on the probe batch: it raised, exited,
    │   │   │                 crashed, or returned output it must not (a set's checks: ERROR)
    │   │   ├── ModelOutputError      probabilities outside [0, 1], NaN, wrong shape, unknown labels
    │   │   └── ModelTimeoutError     a call took longer than model.timeout_s
    │   ├── MissingExtraError an optional extra (onnx, mlflow, ...) is not installed
    │   ├── OutputError       the output folder cannot take the report (a file, unwritable, full)
    │   └── DataError         the data: missing file, missing column, wrong type, empty, one class
    ├── IntegrationError      the report was written but could not be sent on (MLflow); exit code 2
    ├── ExecutionError        a partition of a streamed audit failed after the executor's retries;
    │                         nothing is reported (exit code 2)
    └── CheckError            raised inside a check; the runner turns it into an ERROR result
        └── CheckSkipped      the check cannot apply here (e.g. needs a live model); becomes SKIPPED

Anything else a check raises also becomes an ERROR result with its traceback;
it never stops the audit. Anything else that escapes the command line is an
internal error (exit code 3, the traceback saved to a file).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuditError",
    "InputError",
    "PolicyError",
    "PolicyProblem",
    "ModelLoadError",
    "UntrustedModelError",
    "ModelCallError",
    "ModelOutputError",
    "ModelTimeoutError",
    "MissingExtraError",
    "OutputError",
    "DataError",
    "ExecutionError",
    "IntegrationError",
    "CheckError",
    "CheckSkipped",
]


class AuditError(Exception):
    """Root of every exception the toolkit raises on purpose."""


class ExecutionError(AuditError):
    """A partition of a streamed audit could not be processed, even after retries.

    Raised instead of reporting results computed from the partitions that did
    succeed. The CLI exits with code 2: nothing was audited.
    """

    exit_code = 2


class IntegrationError(AuditError):
    """The audit ran and its report folder was written, but sending the evidence to another
    system (an MLflow tracking server) failed. The CLI exits with code 2."""

    exit_code = 2


class InputError(AuditError):
    """The inputs were wrong; nothing was audited. The CLI exits with code 2."""

    exit_code = 2


@dataclass(frozen=True)
class PolicyProblem:
    """One problem found in a policy file.

    Parameters
    ----------
    path : str
        Key path inside the policy, e.g. ``checks[2].threshold.min``.
    message : str
        What was expected and what was found.
    line : int or None
        1-based line in the policy file where the key is, when known.
    file : str or None
        The file the problem is in when it is not the policy named by the error
        (a baseline it extends); ``path`` and ``line`` are then that file's.
    """

    path: str
    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = self.path or "<policy>"
        if self.file is not None:
            where += f" ({self.file}" + (f", line {self.line})" if self.line is not None else ")")
        elif self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class PolicyError(InputError):
    """The policy file is invalid. Holds every problem found, not just the first."""

    def __init__(self, file: str, problems: list[PolicyProblem]):
        self.file = file
        self.problems = list(problems)
        lines = [f"{file}: {len(self.problems)} problem(s) in the policy"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ModelLoadError(InputError):
    """The model could not be loaded."""


class UntrustedModelError(ModelLoadError):
    """A model that runs code when loaded (pickle, joblib, an entry point, a skops file with
    types outside skops' safe list) was given without ``--trust-model`` (or ``--trust-type``)."""


class ModelCallError(InputError):
    """A call into the model did not return what the audit can use.

    Raised on the probe batch before the audit (exit code 2); on an evaluation set the
    checks reading that set become ERROR with this message and the audit goes on.

    Parameters
    ----------
    model : str
        The model, as the user named it (file, entry point, class).
    message : str
        What happened, e.g. "raised SystemExit(0)".
    """

    def __init__(self, model: str, message: str):
        self.model = model
        self.detail = message
        super().__init__(f"model {model}: {message}")

    def __reduce__(self):
        # Travels between processes (Dask workers, the isolated model process) intact.
        return (type(self), (self.model, self.detail))


class ModelOutputError(ModelCallError):
    """The model returned output outside its contract: probabilities outside [0, 1] or not
    summing to 1, NaN or infinite values, the wrong number of rows or columns, labels that
    are not among the classes."""


class ModelTimeoutError(ModelCallError):
    """A call into the model took longer than its time budget (``model.timeout_s``)."""


class OutputError(InputError):
    """The output folder cannot take the report: it is a file, lies under a file, is not
    writable, or the disk is full. Nothing is left half-written."""


class MissingExtraError(InputError):
    """A feature needs an optional extra that is not installed (``pip install 'audit[onnx]'``)."""


class DataError(InputError):
    """The data could not be used: missing file or column, wrong type, empty, one class."""


class CheckError(AuditError):
    """Raised inside a check on purpose; the runner records it as an ERROR result."""


class CheckSkipped(CheckError):
    """The check does not apply to this audit; the runner records SKIPPED with the reason."""
