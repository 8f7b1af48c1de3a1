"""Streaming bounds memory by the partition, not the table: a Parquet file bigger in memory
than a limit is audited in a process whose peak RSS stays under that limit."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from audit.data.demo import make_credit_data, train_demo_model

ROWS = 2_000_000
LIMIT_MB = 480  # the table alone needs ~700 MB in pandas; the audit process must stay below this

# Runs the audit in a grandchild and prints that process's peak RSS (getrusage of children
# counts only processes that have been waited for, so this isolates the audit's own peak).
PROBE = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(r.stderr[-2000:])
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _write_table(path: Path) -> tuple[float, int]:
    """Write demo rows in chunks until the table needs 1.4 x the limit in pandas (at least ROWS rows);
    return its in-memory size in MB (measured on one chunk: pandas 3 stores strings more compactly) and
    its rows."""
    writer, per_row = None, 0.0
    chunks = ROWS // 250_000
    i = 0
    while i < chunks:
        df = make_credit_data(250_000, seed=100 + i)
        if not per_row:
            per_row = df.memory_usage(deep=True).sum() / len(df)
            chunks = max(chunks, int(np.ceil(1.4 * LIMIT_MB * 2**20 / per_row / 250_000)))
        t = pa.Table.from_pandas(df, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t, row_group_size=50_000)
        i += 1
    writer.close()
    return per_row * chunks * 250_000 / 2**20, chunks * 250_000


def test_table_larger_than_memory_limit_is_streamed_under_it(tmp_path):
    import joblib

    table_mb, rows = _write_table(tmp_path / "big.parquet")
    assert table_mb > LIMIT_MB * 1.3, "the table must not fit under the limit for this test to mean anything"
    # A joblib model keeps skops (which imports torch, ~230 MB) out of the measured process.
    joblib.dump(train_demo_model(make_credit_data(3000, seed=1)), tmp_path / "model.joblib")
    policy = {"version": 1, "name": "memory", "seed": 0,
              "model": {"path": str(tmp_path / "model.joblib")},
              "data": {"path": str(tmp_path / "big.parquet"), "target": "repaid", "sensitive": ["sex", "age_band"]},
              "defaults": {"n_boot": 100},
              "execution": {"executor": "local", "workers": 1, "partition_rows": 50_000, "sample_rows": 2_000},
              "checks": [{"id": "performance.accuracy", "threshold": {"min": 0.5}},
                         {"id": "fairness.demographic_parity_ratio", "threshold": {"min": 0.1}},
                         {"id": "robustness.flip_rate", "evalset": "perturbed.noise@0.1", "threshold": {"max": 1}}]}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    cmd = [sys.executable, "-c", PROBE, sys.executable, "-m", "audit", "run", str(tmp_path / "policy.yaml"),
           "--no-pdf", "--quiet", "--trust-model", "--out", str(tmp_path / "out")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    code, peak_kb = (int(x) for x in out.stdout.split())
    assert code in (0, 1), out.stderr
    print(f"peak RSS {peak_kb / 1024:.0f} MB, table {table_mb:.0f} MB")
    assert peak_kb / 1024 < LIMIT_MB, f"peak RSS {peak_kb / 1024:.0f} MB for a {table_mb:.0f} MB table"
    res = json.loads(next((tmp_path / "out").glob("*/results.json")).read_text())
    assert res["manifest"]["execution"]["rows"] == rows
    assert all(r["n"] == rows for r in res["results"])
