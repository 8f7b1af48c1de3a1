"""Thread limits for the model calls an attack makes.

Attacks query the model many times on one row or a handful of rows. With the
default OpenMP/BLAS thread pools every such call wakes one thread per core, and
on a busy machine the threads of concurrent calls oversubscribe the cores: a
1-row ``predict_proba`` of a HistGradientBoosting model measured 2.4 s instead
of 60 ms. Small calls gain nothing from threads anyway, so every attack runs its
model calls inside :func:`single_threaded`.
"""

from __future__ import annotations

import contextlib
import sys

__all__ = ["THREAD_LIMIT", "single_threaded"]

THREAD_LIMIT = 1


@contextlib.contextmanager
def single_threaded():
    """Limit OpenMP, BLAS (threadpoolctl) and, when imported, torch to one thread.

    Yields
    ------
    dict
        What was limited, for the attack's details: ``{"max_threads": 1,
        "threadpoolctl": True, "torch_threads": 1 or None}`` (None when torch
        is not imported: nothing to limit there).

    Notes
    -----
    The limit is :func:`audit.scale.limited`, which sets OpenMP for the calling thread (its
    limit belongs to each thread) and, in the main thread, BLAS and torch too; inside a
    parallel section those process-wide pools are already at one thread. The previous limits
    are restored on exit. It is entered once per attack, not per model call.
    """
    from audit.scale import limited

    torch = sys.modules.get("torch")
    info = {"max_threads": THREAD_LIMIT, "threadpoolctl": True,
            "torch_threads": THREAD_LIMIT if torch is not None else None}
    with limited(THREAD_LIMIT):
        yield info
