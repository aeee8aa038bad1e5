"""Every analysis on a dataset read from an S3-compatible object store equals the same read from disk.

Not part of ``make test``: it needs DuckDB's ``httpfs`` extension, which DuckDB downloads
on first use (``INSTALL httpfs``) or which comes as the PyPI wheel
``duckdb-extension-httpfs`` for a matching DuckDB version, and an S3 endpoint. Here the
endpoint is moto's S3 server, started in this process. One way to run it offline::

    python -m venv /tmp/s3env
    /tmp/s3env/bin/pip install . "duckdb==1.5.5" "duckdb-extension-httpfs==1.5.5" "moto[server]" boto3
    mkdir -p ~/.duckdb/extensions/v1.5.5/linux_amd64
    cp /tmp/s3env/lib/python3.*/site-packages/duckdb_extension_httpfs/extensions/v1.5.5/httpfs.duckdb_extension \\
       ~/.duckdb/extensions/v1.5.5/linux_amd64/
    /tmp/s3env/bin/python tools/s3_check.py

Two layouts are uploaded: the bundled sample (one file per table) and a month-partitioned
simulation (``events/month=YYYY-MM/part-0000.parquet``, as ``simulate_to_parquet`` writes
it). Counts must be equal and sums equal to 1e-9 relative (parallel sums add in another
order).
"""
from __future__ import annotations

import logging
import tempfile
import time
import warnings
from pathlib import Path

import boto3
import ibis
import pandas as pd
from moto.server import ThreadedMotoServer

import journeylib as jl
from journeylib.journeys import attribution, paths, stages
from journeylib.loyalty import clv, cohorts, rfm
from journeylib.experiments import readout as experiments
from journeylib.retention import survival as sv
from journeylib.simulate.journeys import simulate_to_parquet

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"  # the checkout's copy
PORT = 5555
SECRET = ("CREATE SECRET s3_check (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', "
          f"ENDPOINT 'localhost:{PORT}', URL_STYLE 'path', USE_SSL false)")


def upload(folder: Path, bucket: str, prefix: str) -> None:
    s3 = boto3.client("s3", endpoint_url=f"http://localhost:{PORT}", aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    for p in folder.rglob("*"):
        if p.is_file() and not p.name.startswith("_"):
            s3.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(folder).as_posix()}")


def analyses(folder: str | Path) -> dict[str, pd.DataFrame]:
    ds = jl.load_dataset(folder)
    labels = jl.churn_labels(ds.events, ds.customers, start_event="purchase")
    return {
        "events": pd.DataFrame({"rows": [int(ds.events.count().execute())]}),
        "funnel": stages.funnel(ds.events, window=30).summary,
        "transitions": stages.stage_transitions(ds.events).counts,
        "path table": paths.path_table(ds.events),
        "attribution": attribution.attribute(ds.events, n_boot=20).summary,
        "Kaplan-Meier": sv.kaplan_meier(labels, by="segment").summary,
        "A/B readout": experiments.ab_readout(ds.assignments, ds.events).summary,
        "cohorts": cohorts.cohort_table(ds.events).retention.reset_index(),
        "RFM": rfm.rfm_table(ds.events),
        "CLV summary": clv.customer_summary(ds.events, time_unit="W"),
        "ground truth": pd.DataFrame({"key": sorted(ds.ground_truth or {})}),
    }


def main() -> None:
    warnings.simplefilter("ignore")  # the sample's planted SRM warning, duplicates notes
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's access log
    server = ThreadedMotoServer(port=PORT)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lake = simulate_to_parquet(Path(tmp) / "lake", 8_000, seed=7, progress=False)
            for local, prefix in ((SAMPLE_DIR, "sample"), (lake, "lake")):
                upload(Path(local), "journeys", prefix)
                jl.connect(None)
                expected = analyses(local)
                con = ibis.duckdb.connect()
                con.raw_sql(SECRET)
                jl.connect(con)
                start = time.perf_counter()
                got = analyses(f"s3://journeys/{prefix}")
                for name, frame in expected.items():
                    pd.testing.assert_frame_equal(frame.reset_index(drop=True), got[name].reset_index(drop=True),
                                                  check_exact=False, rtol=1e-9, obj=name)
                print(f"s3://journeys/{prefix}: {int(got['events'].iloc[0, 0]):,} events; "
                      f"{len(got)} results equal to the local read ({time.perf_counter() - start:.1f} s over S3)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
