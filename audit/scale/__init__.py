"""Where partition tasks run: this process, a pool of its threads, or a Dask cluster.

``scale`` only distributes work. An executor runs ``fn(source, partition,
*shared)`` for every partition and yields the results as they complete; what
the tasks compute (:mod:`audit.passes`) and how their results are merged is
the runner's business, and merging is order-free, so which executor ran them
changes nothing. The in-memory executor runs the one partition of the whole
table in this process.
"""

from audit.scale._executors import DaskExecutor, LocalExecutor, make_executor

__all__ = ["DaskExecutor", "LocalExecutor", "make_executor"]
