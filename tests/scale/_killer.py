"""A model whose first prediction on a Dask worker kills that worker (fault-injection tests).

Loaded through an entry point (``tests.scale._killer:build``); the marker file named by
``AUDIT_KILL_MARKER`` makes it kill exactly one worker process, once. With
``AUDIT_KILL_SENTINEL`` set it instead kills every worker that predicts a row whose
``income`` equals that value: a partition that never completes, however often it is retried.
"""

import os
from pathlib import Path

import skops.io as sio


class KillOnce:
    def __init__(self, model, marker: str, sentinel: float | None = None):
        self.model, self.marker, self.sentinel = model, marker, sentinel
        self.classes_ = model.classes_

    def _maybe_die(self, X):
        import multiprocessing

        # Dask's worker processes have a parent; the driver (pytest) has none and predicts normally.
        # (Asked of the process, not of distributed's thread-local state: the audit calls model code
        # on a thread of its own, which runs it under a time budget.)
        if multiprocessing.parent_process() is None:
            return
        if self.sentinel is not None:
            if (X["income"] == self.sentinel).any():
                os._exit(13)
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(13)  # the worker process dies mid-task, as on an OOM kill

    def predict(self, X):
        self._maybe_die(X)
        return self.model.predict(X)

    def predict_proba(self, X):
        self._maybe_die(X)
        return self.model.predict_proba(X)


def build():
    model = sio.load(os.environ["AUDIT_KILL_MODEL"], trusted=sio.get_untrusted_types(file=os.environ["AUDIT_KILL_MODEL"]))
    sentinel = os.environ.get("AUDIT_KILL_SENTINEL")
    return KillOnce(model, str(Path(os.environ.get("AUDIT_KILL_MARKER", "unused"))),
                    None if sentinel is None else float(sentinel))
