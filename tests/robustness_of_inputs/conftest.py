"""The fuzz suite's shared workspace and its closing summary (cases, exit codes, tracebacks, hangs)."""

from __future__ import annotations

import pytest

from ._harness import Tally, make_workspace

TALLIES: dict[str, Tally] = {}
"""Counts per fuzz family, filled by the tests and printed at the end of the session."""


def tally(name: str) -> Tally:
    """The session's tally for one fuzz family."""
    return TALLIES.setdefault(name, Tally())


def require_cases(family: str, minimum: int) -> None:
    """The family's fuzz test ran at least ``minimum`` cases (skipped when it was not selected)."""
    t = tally(family)
    if t.cases == 0:
        pytest.skip(f"no {family} case ran: its fuzz test was not selected")
    assert t.cases >= minimum, t.lines(family)


@pytest.fixture(scope="session")
def fuzz_workspace(tmp_path_factory):
    """The fitted model and valid data every case starts from (written once per session)."""
    return make_workspace(tmp_path_factory.mktemp("fuzz"))


def pytest_terminal_summary(terminalreporter):
    if not TALLIES:
        return
    terminalreporter.section("hostile-input fuzzing")
    for name, t in TALLIES.items():
        for line in t.lines(name):
            terminalreporter.write_line(line)
