"""The local executor: partitions on forked worker processes (threads where fork is unavailable)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from audit.data.sources import FrameSource, partitions, read_partition
from audit.errors import ExecutionError
from audit.scale import LocalExecutor
from audit.scale._executors import _can_fork


def _task(source, part, scale, offset):
    df = read_partition(source, part, ["x"])
    return part.index, os.getpid(), float(scale(df["x"]).sum()) + offset


def _failing(source, part, _):
    if part.index == 1:
        raise RuntimeError("boom")
    return part.index


@pytest.fixture
def source():
    return FrameSource(pd.DataFrame({"x": range(1000)}))


@pytest.mark.parametrize("processes", [True, False])
def test_every_partition_once_with_unpicklable_shared_arguments(source, processes):
    if processes and not _can_fork():
        pytest.skip("no fork on this platform")
    ex = LocalExecutor(2, processes=processes)
    parts = partitions(source, 150)
    # A lambda cannot be pickled: forked workers inherit the shared arguments instead.
    out = sorted(ex.map(_task, source, parts, lambda s: 2 * s, 1.0))
    assert [i for i, _, _ in out] == list(range(len(parts)))
    want = [2.0 * sum(range(p.start, p.stop)) + 1.0 for p in parts]
    assert [v for _, _, v in out] == want
    pids = {pid for _, pid, _ in out}
    assert (os.getpid() not in pids) if processes else (pids == {os.getpid()})


def test_forked_is_the_default_where_available():
    assert LocalExecutor(2).processes == _can_fork()


def test_a_failing_partition_names_itself(source):
    ex = LocalExecutor(2)
    with pytest.raises(ExecutionError, match=r"partition 1 \(rows 300 to 599"):
        list(ex.map(_failing, source, partitions(source, 300), None))
