"""The machine and software a profile was measured on."""

from __future__ import annotations

import functools
import os
import time
from importlib import metadata

__all__ = ["environment", "model_library", "load_average"]


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()  # scans every installed package (~0.3 s): once


# Import names whose distribution is named otherwise; others are looked up by name first, and only
# then in the map of every installed distribution (a scan of ~0.3 s).
_KNOWN = {"sklearn": "scikit-learn", "skl2onnx": "skl2onnx", "onnxruntime": "onnxruntime"}


def model_library(estimator) -> dict[str, str]:
    """Top-level package of the estimator's class and its installed version."""
    top = type(estimator).__module__.split(".", 1)[0]
    try:
        name = _KNOWN.get(top, top)
        return {"package": name, "version": metadata.version(name)}
    except metadata.PackageNotFoundError:
        pass
    dists = _distributions().get(top, [top])
    for d in dists:
        try:
            return {"package": d, "version": metadata.version(d)}
        except metadata.PackageNotFoundError:
            continue
    return {"package": top, "version": "unknown"}


def _threadpools() -> list[dict[str, object]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return []
    keep = ("user_api", "internal_api", "num_threads", "version", "threading_layer")
    return [{k: p.get(k) for k in keep if p.get(k) is not None} for p in threadpool_info()]


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def environment(estimator=None) -> dict[str, object]:
    """Hardware, software, thread pools and load of this process, JSON-ready.

    Reuses :func:`audit.manifest.hardware` and :func:`audit.manifest.library_versions`
    so the profile and the report manifest describe the machine the same way.
    """
    from audit.manifest import hardware, library_versions

    info = time.get_clock_info("perf_counter")
    env: dict[str, object] = dict(hardware())
    try:
        env["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        env["usable_cores"] = os.cpu_count()
    env["threadpools"] = _threadpools()
    env["load_average"] = load_average()
    env["timer"] = {"name": "perf_counter_ns", "implementation": info.implementation,
                    "resolution_s": info.resolution}
    env["libraries"] = library_versions()
    if estimator is not None:
        env["model_library"] = model_library(estimator)
    return env
