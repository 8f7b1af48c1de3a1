"""Where partition tasks run: this process, worker processes forked from it, or a Dask cluster.

``scale`` only distributes work. An executor runs ``fn(source, partition,
*shared)`` for every partition and yields the results as they complete; what
the tasks compute (:mod:`audit.passes`) and how their results are merged is
the runner's business, and merging is order-free, so which executor ran them
changes nothing. The in-memory executor runs the one partition of the whole
table in this process. :mod:`audit.scale._threads` holds the thread limits every model
call runs under.
"""

from audit.scale._executors import DaskExecutor, LocalExecutor, make_executor
from audit.scale._threads import (
    ThreadPlan,
    configured_threads,
    limited,
    parallel_section,
    threads_in_effect,
    usable_cores,
)

__all__ = ["DaskExecutor", "LocalExecutor", "ThreadPlan", "configured_threads", "limited", "make_executor",
           "parallel_section", "threads_in_effect", "usable_cores"]
