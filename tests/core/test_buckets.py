"""Customer-hash buckets: every customer in exactly one bucket, the same rows whether filtered or
written to Parquet once, and the files gone afterwards."""
from __future__ import annotations

import glob
import os

import ibis
import pandas as pd
import pytest

from journeylib.core import buckets, engine


@pytest.fixture()
def log() -> ibis.Table:
    rows = [(f"c{i % 37}", pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=i), "landing" if i % 3 else
             "purchase", None if i % 5 == 0 else "email") for i in range(500)]
    return engine.to_table(pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel"]))


def _rows(t: ibis.Table) -> pd.DataFrame:
    return engine.to_pandas(t).sort_values(["customer_id", "ts"]).reset_index(drop=True)


def test_files_hold_the_filtered_rows_and_are_removed(log):
    con = log._find_backend(use_default=True)
    folder = con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
    with buckets.bucket_files(log, 4) as parts:
        made = glob.glob(os.path.join(folder, "journeylib-buckets-*"))
        assert len(made) == 1  # written once, read per bucket
        got = [_rows(p) for p in parts]
        assert [list(p.columns) for p in parts] == [list(log.columns)] * 4
        assert parts[0].schema() == log.schema()
    assert not glob.glob(os.path.join(folder, "journeylib-buckets-*"))
    want = [_rows(p) for p in buckets.bucket_tables(log, 4)]
    for g, w in zip(got, want):
        pd.testing.assert_frame_equal(g, w)
    ids = [set(g["customer_id"]) for g in got]
    assert sum(len(s) for s in ids) == len(set().union(*ids)) == 37  # each customer in exactly one bucket
    assert sum(len(g) for g in got) == 500


def test_an_empty_bucket_is_an_empty_table(log):
    one = log.filter(log.customer_id == "c1")
    with buckets.bucket_files(one, 3) as parts:
        sizes = sorted(int(p.count().execute()) for p in parts)
    assert sizes == [0, 0, int(one.count().execute())]


def test_summed_frames_adds_counts_and_keeps_missing_keys():
    a = pd.DataFrame({"stage": ["cart", None, "buy"], "n": [2, 1, 4], "m": [1.5, 0.0, 1.0]})
    b = pd.DataFrame({"stage": ["cart", None], "n": [3, 2], "m": [0.5, 1.0]})
    out = buckets.summed_frames([a, b], "stage")
    assert out.to_dict("list") == {"stage": ["cart", None, "buy"], "n": [5, 3, 4], "m": [2.0, 1.0, 1.0]}
    assert buckets.summed_frames([a], "stage") is a


def test_a_table_stored_by_bucket_is_read_per_bucket_not_written_again(log, tmp_path, monkeypatch):
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 150)  # 500 rows: stored in 4 buckets
    monkeypatch.setattr(buckets, "_STORED", {})
    con = log._find_backend(use_default=True)
    n = buckets.write_parquet(log, tmp_path / "events")
    assert n == 4 and sorted(os.listdir(tmp_path / "events")) == [f"_bucket={k}" for k in range(4)]
    stored = buckets.read_parquet(con, tmp_path / "events", n)
    pd.testing.assert_frame_equal(_rows(stored), _rows(log))
    rowwise = stored.filter(stored.event == "landing").select("customer_id", "ts", "channel").order_by("ts")
    writes = []
    monkeypatch.setattr(type(con), "to_parquet", lambda *a, **k: writes.append(a))
    with buckets.bucket_files(rowwise) as parts:
        got = [_rows(p) for p in parts]
    assert not writes  # the stored buckets, not a new split
    assert len(got) == 4
    ids = [set(g["customer_id"]) for g in got]
    assert sum(len(s) for s in ids) == len(set().union(*ids))  # each customer in exactly one bucket
    pd.testing.assert_frame_equal(pd.concat(got).sort_values(["customer_id", "ts"]).reset_index(drop=True),
                                  _rows(rowwise))
    # same numbers through per_bucket as on the table written in one piece
    count = lambda e: e.group_by("channel").agg(n=e.customer_id.nunique())  # noqa: E731
    want = engine.to_pandas(count(log.filter(log.event == "landing")))
    got = buckets.summed_per_bucket(rowwise, count, "channel", ["n"])
    assert not writes
    assert dict(zip(got["channel"], got["n"])) == dict(zip(want["channel"], want["n"]))


@pytest.mark.parametrize("across", [
    lambda s: s.filter(s.ts > s.ts.min()),  # a subquery over every customer
    lambda s: s.mutate(k=ibis.row_number().over(order_by=s.ts)),  # a window over every customer
    lambda s: s.group_by("customer_id").agg(n=s.count()),
    lambda s: s.join(s.group_by("event").agg(m=s.count()), "event"),
    lambda s: s.limit(10),
    lambda s: s.mutate(customer_id=s.channel),  # another column as the customer: not what the split is by
    lambda s: s.select(customer_id=s.customer_id.upper(), ts=s.ts),
])
def test_a_step_across_customers_gets_its_own_split(log, tmp_path, monkeypatch, across):
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 150)
    monkeypatch.setattr(buckets, "_STORED", {})
    con = log._find_backend(use_default=True)
    stored = buckets.read_parquet(con, tmp_path / "events", buckets.write_parquet(log, tmp_path / "events"))
    t = across(stored)
    assert buckets._stored_buckets(t, None) is None
    with buckets.bucket_files(t, 3) as parts:  # its own split still holds exactly its rows
        assert sum(int(p.count().execute()) for p in parts) == int(t.count().execute())
