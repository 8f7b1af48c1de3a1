"""Run ``audit <args>`` in this process and write the CPU seconds of each phase to a JSON file.

    python benchmarks/_phases.py OUT.json run policy.yaml --out reports ...

The benchmarks start this script in a fresh interpreter instead of ``python -m audit``. It
wraps, as their modules are first imported (so no import moves to another phase), the
functions that bound the phases of an audit:

- ``audit.runner.prepare_inputs``: the sample pass (data opened, exact counts, sample);
- ``audit.runner._summary_pass``: the summary pass (evaluation sets predicted and summarised);
- ``audit.runner._run_checks``: the checks;
- ``audit.report.html.render_html`` and ``audit.report.pdf.render_pdf``: the reports.

CPU time is user + system time of this process (every thread) plus every child process it
has waited for (the cold-start child), from ``getrusage``. Everything before the sample
pass (interpreter start, imports, policy, model load) is "imports + model load"; the rest
that no phase names is "other" (manifest, results.json, JUnit, console, exit). The names
exist on every version of the pipeline since it became one, so the same driver measures
a checkout from before a change and one after it. Older checkouts (before the one
pipeline, e.g. 7853965) are measured through ``_load_inputs`` (data: "sample pass"),
``load_model`` (called after the data: counted in "imports + model load") and ``_audit_one``
(evaluation sets built and predicted inside the checks: "checks", no summary pass).
"""

from __future__ import annotations

import functools
import importlib.abc
import json
import resource
import sys
import time

LATE_LOAD = "model load after a phase"  # counted in "imports + model load"
WRAP = {
    "audit.runner": {"prepare_inputs": "sample pass", "_summary_pass": "summary pass", "_run_checks": "checks",
                     # Before the one pipeline (e.g. 7853965): data loaded by _load_inputs, the model by
                     # load_model (after the data), evaluation sets built and predicted inside the checks.
                     "_load_inputs": "sample pass", "load_model": LATE_LOAD, "_audit_one": "checks"},
    "audit.report.html": {"render_html": "HTML"},
    "audit.report.pdf": {"render_pdf": "PDF"},
}
PHASES = ["imports + model load", "sample pass", "summary pass", "checks", "HTML", "PDF", "other"]


def cpu_s() -> float:
    """User + system CPU seconds of this process and of its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


spent: dict[str, float] = {p: 0.0 for p in [*PHASES, LATE_LOAD]}
wall: dict[str, float] = {p: 0.0 for p in [*PHASES, LATE_LOAD]}
first_phase_at: list[float] = []
_depth = [0]


def timed(phase: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _depth[0] or (phase == LATE_LOAD and not first_phase_at):
            # a phase inside another (HTML rendered for the PDF), or a model loaded before the first
            # phase (already in "imports + model load"): counted once
            return fn(*args, **kwargs)
        c0, w0 = cpu_s(), time.perf_counter()
        if not first_phase_at:
            first_phase_at.append(c0)
        _depth[0] += 1
        try:
            return fn(*args, **kwargs)
        finally:
            _depth[0] -= 1
            spent[phase] += cpu_s() - c0
            wall[phase] += time.perf_counter() - w0

    return wrapper


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds the modules of WRAP with the other finders, and wraps their functions once executed."""

    def find_spec(self, name, path=None, target=None):
        if name not in WRAP:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            for attr, phase in WRAP[name].items():
                if hasattr(module, attr):
                    setattr(module, attr, timed(phase, getattr(module, attr)))

        spec.loader.exec_module = exec_module
        return spec


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    sys.meta_path.insert(0, _PatchAfterImport())
    w_start = time.perf_counter()
    from audit.cli import main as audit_main

    try:
        code = audit_main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 2
    total = cpu_s()
    spent["imports + model load"] = (first_phase_at[0] if first_phase_at else total) + spent.pop(LATE_LOAD)
    wall["imports + model load"] += wall.pop(LATE_LOAD)
    spent["other"] = total - sum(v for k, v in spent.items() if k != "other")
    with open(out, "w") as f:
        json.dump({"exit_code": code, "cpu_s": spent, "wall_s": wall, "total_cpu_s": total,
                   "driver_wall_s": time.perf_counter() - w_start}, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
