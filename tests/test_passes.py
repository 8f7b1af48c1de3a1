"""The sample pass (audit.passes) gives the same counts, extremes and sample for any partitioning."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.data.sources import open_source, partitions, whole
from audit.passes import SampleJob, merge_sample_pass, sample_task, select_sample, strata_of


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("passes")
    rng = np.random.default_rng(4)
    n = 6000
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "y": rng.integers(0, 2, n),
        "g": rng.choice(["a", "b", "c"], n, p=[0.7, 0.25, 0.05]),
        # 1,500 distinct values in all, at most 1,000 in any 1,000-row partition: counted in
        # each partition, but not in the table (max_vocab 1,000)
        "wide": (np.arange(n) % 1500).astype(str),
    })
    for i, (a, b) in enumerate([(0, 2500), (2500, 6000)]):
        pq.write_table(pa.Table.from_pandas(df.iloc[a:b], preserve_index=False), d / f"p{i}.parquet",
                       row_group_size=700)
    return open_source(d), df


def _pass(src, parts):
    job = SampleJob(["x", "y", "g", "wide"], ["y", "g"], ["y", "g", "wide"], ["x"], seed=3, threshold=0.1,
                    floor=50, max_vocab=1000)
    merged = merge_sample_pass((sample_task(src, p, job) for p in parts), job)
    return merged, select_sample(merged, 600, src.n_rows, job.threshold, floor=50)


def test_sample_pass_does_not_depend_on_the_partitioning(table):
    src, df = table
    ref, ref_sample = _pass(src, [whole(src)])
    assert ref["rows"] == len(df)
    assert ref["counts"]["wide"] is None  # 1,500 distinct > max_vocab
    assert ref["counts"]["g"] == df["g"].value_counts().to_dict()
    assert ref["extremes"]["x"] == (df["x"].min(), df["x"].max())
    assert ref_sample is not None and len(ref_sample) >= 600
    for parts in (partitions(src, 1000), partitions(src, 2500), partitions(src, 777)):
        merged, sample = _pass(src, parts)
        assert merged["counts"] == ref["counts"]
        assert merged["extremes"] == ref["extremes"]
        assert dict(merged["strata"].items()).keys() == dict(ref["strata"].items()).keys()
        assert all((merged["strata"][k] == v).all() for k, v in ref["strata"].items())
        pd.testing.assert_frame_equal(sample, ref_sample)


def test_strata_name_each_column_once():
    assert strata_of("y", ["g", "h"], classification=True) == ["y", "g", "h"]
    assert strata_of("y", ["g"], classification=False) == ["g"]
    assert strata_of(None, ["g"], classification=True) == ["g"]
    assert strata_of("g", ["g", "h"], classification=True) == ["g", "h"]  # the target is sensitive too


@pytest.mark.filterwarnings("error::FutureWarning")
def test_sample_of_a_target_that_is_also_sensitive(table):
    # The strata were [g, g]: each stratum column selected a two-column frame (whose pd.factorize
    # pandas deprecates: an error under this filter) and the strata table named g twice.
    from audit.sampling import stratified_sample

    _, df = table
    res = stratified_sample(df, sensitive=["g"], target="g", rows=600, floor=50, seed=3)
    assert res.stratify_by == ["g"]
    assert list(res.strata.columns) == ["g", "table_rows", "sample_rows", "weight"]
    assert dict(zip(res.strata["g"], res.strata["table_rows"], strict=True)) == df["g"].value_counts().to_dict()
    assert dict(zip(res.strata["g"], res.strata["sample_rows"], strict=True)) == res.frame["g"].value_counts().to_dict()
