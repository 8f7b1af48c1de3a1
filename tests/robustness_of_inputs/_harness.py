"""Run one fuzz case through the command line, in this process, and judge what came out.

The fuzz tests and ``scripts/fuzz_report.py`` share this module: a case is a policy text, a
data file and a model file in a fresh folder; :func:`run_case` calls ``audit.cli.main`` with
``--no-pdf --quiet`` under a per-case alarm and returns an :class:`Outcome`, and
:func:`problems` lists what is wrong with it (a traceback, exit 3, a hang, an exit-2 message
naming nothing, a report folder written for bad input, a thread left running).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Workspace", "Outcome", "Tally", "make_workspace", "run_case", "problems", "CASE_TIMEOUT_S",
           "FEATURES", "TARGET", "SENSITIVE", "base_frame", "base_policy"]

CASE_TIMEOUT_S = 30
"""Seconds one case may take before it counts as a hang (a good case takes well under 2 s)."""

FEATURES = ["x1", "x2", "age"]
TARGET = "y"
SENSITIVE = "sex"
N_ROWS = 200


def base_frame(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """The valid table every dataset case starts from: three numeric features, a binary target
    that depends on ``x1``, a two-valued sensitive column and a spare categorical column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "age": rng.integers(18, 90, n).astype(float),
        SENSITIVE: rng.choice(["f", "m"], n),
        "region": rng.choice(["north", "south", "east"], n),
    })
    df[TARGET] = (df["x1"] + rng.normal(scale=0.7, size=n) > 0).astype(np.int64)
    return df


def base_policy(model: str, data: str) -> dict:
    """The valid policy every policy case starts from: two cheap checks and one constraint."""
    return {
        "version": 1,
        "name": "fuzz",
        "seed": 0,
        "model": {"path": model},
        "data": {"path": data, "target": TARGET, "sensitive": [SENSITIVE], "features": list(FEATURES)},
        "constraints": {"age": {"min": 18, "max": 100}},
        "checks": [
            {"id": "performance.accuracy", "threshold": {"min": 0.6, "warn_min": 0.65}},
            {"id": "fairness.demographic_parity_difference", "params": {"sensitive": [SENSITIVE]},
             "threshold": {"max": 0.4}},
        ],
    }


@dataclass(frozen=True)
class Workspace:
    """Files shared by every case of a session: the fitted model and the valid data."""

    root: Path
    model: Path
    data: Path


def make_workspace(root: Path) -> Workspace:
    """Fit a small LogisticRegression on :func:`base_frame`, save it with skops (no trust needed)
    and the table as Parquet, under ``root``."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    root.mkdir(parents=True, exist_ok=True)
    df = base_frame()
    model = LogisticRegression().fit(df[FEATURES], df[TARGET])
    sio.dump(model, root / "model.skops")
    df.to_parquet(root / "data.parquet")
    return Workspace(root=root, model=root / "model.skops", data=root / "data.parquet")


@dataclass
class Outcome:
    """What one case did."""

    code: int | None
    stdout: str
    stderr: str
    seconds: float
    hung: bool
    out: Path
    leaked_threads: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


class _Hang(BaseException):
    """Raised in the main thread by the alarm: the case ran past its budget."""


@contextlib.contextmanager
def _alarm(seconds: int, fired: list):
    """Interrupt the main thread after ``seconds`` (SIGALRM; a no-op off the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def handler(signum, frame):
        fired.append(True)
        raise _Hang(f"case ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_case(argv: list[str], out: Path, timeout_s: int = CASE_TIMEOUT_S) -> Outcome:
    """Run ``audit`` with ``argv`` (``--out out`` is the caller's) in this process.

    Standard output and error are captured by swapping ``sys.stdout``/``sys.stderr`` (the CLI
    wraps whatever it finds); threads still alive a moment after the call that were not alive
    before it are reported as leaked.
    """
    from audit.cli import main

    before = {t.ident for t in threading.enumerate()}
    fired: list = []
    out_buf, err_buf = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    start = time.perf_counter()
    code = None
    try:
        sys.stdout, sys.stderr = out_buf, err_buf
        with _alarm(timeout_s, fired):
            code = main(argv)
    except _Hang:
        pass
    finally:
        sys.stdout, sys.stderr = saved
    seconds = time.perf_counter() - start
    leaked = _leaked_threads(before)
    return Outcome(code=code, stdout=out_buf.getvalue(), stderr=err_buf.getvalue(), seconds=seconds,
                   hung=bool(fired), out=out, leaked_threads=leaked)


def run_audit(policy: Path, *extra: str) -> Outcome:
    """``audit run POLICY [extra] --no-pdf --quiet`` into ``out/`` beside the policy."""
    out = policy.parent / "out"
    return run_case(["run", str(policy), *extra, "--no-pdf", "--quiet", "--out", str(out)], out)


_case_ids = itertools.count()


def case_folder(ws: Workspace, family: str) -> Path:
    """A fresh folder for one case of ``family`` under the session's workspace."""
    folder = ws.root / f"{family}-{next(_case_ids)}"
    folder.mkdir()
    return folder


def judge(outcome: Outcome, case, what: str) -> list[str]:
    """:func:`problems` of a generated case, plus accepting ``what`` (a dataset, a policy)
    that the case says must be refused."""
    found = problems(outcome, list(case.names) if case.must_refuse and case.names else None)
    if case.must_refuse and outcome.code in (0, 1):
        found.append(f"accepted (exit {outcome.code}) {what} that must be refused")
    return found


def _leaked_threads(before: set, grace_s: float = 2.0) -> list[str]:
    # A model call's guard thread ends right after the call returns; give it a moment.
    deadline = time.monotonic() + grace_s
    while True:
        new = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not t.daemon]
        if not new or time.monotonic() > deadline:
            return [t.name for t in new]
        time.sleep(0.02)


_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"[^\"]+\", line \d+", re.M)


def problems(outcome: Outcome, names: list[str] | None = None) -> list[str]:
    """Everything wrong with ``outcome``; an empty list for a good one.

    Parameters
    ----------
    outcome : Outcome
        The case's result.
    names : list of str, optional
        For a case that must be refused: the key paths, columns or files of which the exit-2
        message must name at least one. Without it, an exit-2 message must still name the
        policy or data file, or a column of the data.
    """
    found = []
    if outcome.hung:
        found.append(f"hung: no exit within {CASE_TIMEOUT_S} s")
        return found
    if _TRACEBACK.search(outcome.text):
        found.append("a traceback was printed")
    if outcome.code not in (0, 1, 2):
        found.append(f"exit code {outcome.code} (3 is an internal error: a bug)")
    if outcome.leaked_threads:
        found.append(f"threads left running: {outcome.leaked_threads}")
    if outcome.code == 2:
        if "audit: error" not in outcome.stderr:
            found.append("exit 2 without an 'audit: error' line")
        wanted = names or _GENERIC_NAMES
        if not any(n in outcome.stderr for n in wanted):
            found.append(f"exit-2 message names none of {wanted[:8]}")
        written = _report_folders(outcome.out)
        if written:
            found.append(f"exit 2 but report folders were written: {written}")
    if outcome.code in (0, 1) and not _report_folders(outcome.out):
        found.append(f"exit {outcome.code} without a report folder")
    return found


_GENERIC_NAMES = ["policy.yaml", "data.", "model.skops", *FEATURES, TARGET, SENSITIVE, "region", "--out"]


def _report_folders(out: Path) -> list[str]:
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() or p.name.endswith(".json"))


@dataclass
class Tally:
    """Counts over a fuzz run: cases, exit codes, tracebacks, hangs, slowest case."""

    cases: int = 0
    codes: dict = field(default_factory=dict)
    tracebacks: int = 0
    hangs: int = 0
    internal_errors: int = 0
    slowest: float = 0.0
    failures: list = field(default_factory=list)

    def add(self, label: str, outcome: Outcome, found: list[str]) -> None:
        self.cases += 1
        self.codes[outcome.code] = self.codes.get(outcome.code, 0) + 1
        self.tracebacks += bool(_TRACEBACK.search(outcome.text))
        self.hangs += outcome.hung
        self.internal_errors += outcome.code == 3
        self.slowest = max(self.slowest, outcome.seconds)
        if found:
            self.failures.append((label, found, outcome.stderr.strip()[-400:]))

    def lines(self, title: str) -> list[str]:
        codes = ", ".join(f"exit {k}: {v}" for k, v in sorted(self.codes.items(), key=lambda kv: str(kv[0])))
        return [f"{title}: {self.cases} cases; {codes}; tracebacks {self.tracebacks}; hangs {self.hangs}; "
                f"internal errors {self.internal_errors}; failed cases {len(self.failures)}; "
                f"slowest case {self.slowest:.1f} s"]
