"""The demo's inputs are reproducible and never replaced: same seed, same bytes, in any process."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.data.demo import (
    FEATURES,
    TARGET,
    make_credit_data,
    skops_bytes,
    train_demo_model,
    write_demo,
)
from audit.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

_WRITE = """
import hashlib, json, sys
from audit.data.demo import write_demo
paths = write_demo(sys.argv[1], seed=int(sys.argv[2]), n_train=800, n_test=400)
print(json.dumps({k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}))
"""


def _write_in_fresh_process(folder: Path, seed: int = 0) -> dict:
    # A new interpreter: other object ids, another clock second; the bytes must not care.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _WRITE, str(folder), str(seed)], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_processes_write_identical_files(tmp_path):
    a = _write_in_fresh_process(tmp_path / "a")
    b = _write_in_fresh_process(tmp_path / "b")
    assert a == b
    for k, name in (("model", "model.skops"), ("train", "train.parquet"), ("holdout", "holdout.parquet")):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), k
    assert a["model"] != _write_in_fresh_process(tmp_path / "c", seed=1)["model"]


def test_normalised_skops_file_loads_the_same_model():
    import skops.io as sio

    data = make_credit_data(1200, seed=2)
    model = train_demo_model(data, seed=2)
    raw = skops_bytes(model)
    assert raw == skops_bytes(model)  # no clock, no object ids in the bytes
    assert sio.get_untrusted_types(data=raw) == []  # still loads without trust
    loaded = sio.loads(raw)
    np.testing.assert_array_equal(loaded.predict_proba(data[FEATURES]), model.predict_proba(data[FEATURES]))
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()


def test_rerun_keeps_identical_files_and_refuses_different_ones(tmp_path):
    paths = write_demo(tmp_path, seed=0, n_train=800, n_test=400)
    before = {k: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for k, p in paths.items()}
    again = write_demo(tmp_path, seed=0, n_train=800, n_test=400)
    assert again == paths
    assert {k: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for k, p in again.items()} == before  # kept, not rewritten
    with pytest.raises(InputError) as err:
        write_demo(tmp_path, seed=7, n_train=800, n_test=400)
    msg = str(err.value)
    assert "train.parquet" in msg and "not overwritten" in msg and "--work" in msg
    assert {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()} == {
        k: h for k, (_, h) in before.items()}
    assert pd.read_parquet(paths["holdout"])[TARGET].notna().all()


def test_default_work_folder_per_seed():
    from audit.cli import demo_work_folder

    def ns(**kw):
        return argparse.Namespace(**{"work": None, "seed": None, "torch": False, **kw})

    assert demo_work_folder(ns()) == Path("demo-work")  # what the bundled policies read
    assert demo_work_folder(ns(seed=0)) == Path("demo-work")
    assert demo_work_folder(ns(seed=7)) == Path("demo-work-seed-7")
    assert demo_work_folder(ns(torch=True)) == Path("demo-work-digits")
    assert demo_work_folder(ns(torch=True, seed=3)) == Path("demo-work-digits-seed-3")
    assert demo_work_folder(ns(work="elsewhere", seed=7)) == Path("elsewhere")


def test_demo_command_refuses_to_replace_an_earlier_runs_inputs(tmp_path, capsys):
    from audit.cli import main

    write_demo(tmp_path / "work", seed=0, n_train=800, n_test=400)  # another size: other bytes
    before = (tmp_path / "work" / "model.skops").read_bytes()
    code = main(["demo", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "reports"), "--quiet",
                 "--no-pdf"])
    assert code == 2
    assert "not overwritten" in capsys.readouterr().err
    assert (tmp_path / "work" / "model.skops").read_bytes() == before
    assert not (tmp_path / "reports").exists()


def test_digits_demo_files_are_reproducible(tmp_path):
    pytest.importorskip("torch")
    from audit.data import digits_demo

    a = digits_demo.write_digits_demo(tmp_path / "a", seed=0)
    digits_demo.demo_model.cache_clear()  # retrain from scratch
    b = digits_demo.write_digits_demo(tmp_path / "b", seed=0)
    for k in a:
        assert a[k].read_bytes() == b[k].read_bytes(), k
