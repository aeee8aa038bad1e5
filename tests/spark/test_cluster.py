"""A standalone Spark cluster: one master and two workers, each in its own JVM.

The other parity files use ``local[2]``, where driver and executors share one JVM. Here
the notebooks' path to a cluster is exercised: ``jl.connect("spark://host:port")`` from a
separate driver process, tasks shipped to two worker processes (each with one core and
its own executor), files read by the executors. The results of one analysis per area
must equal those of DuckDB in this process over the same Parquet files.
"""
from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import journeylib as jl

pytestmark = pytest.mark.spark

# One analysis per area; the same code runs on the cluster (driver subprocess) and on DuckDB here.
ANALYSES = """
import journeylib as jl
from journeylib import churn, experiments, paths, stages
from journeylib.clv import customer_summary
from journeylib.cohorts import cohort_table


def analyses(data_dir):
    ds = jl.load_dataset(data_dir)
    f = stages.funnel(ds.events, window=30)
    tr = stages.stage_transitions(ds.events)
    return {
        "rows": ds.events.count().to_pandas(),
        "funnel": f.summary,
        "transitions": tr.counts.reset_index(),
        "path_table": paths.path_table(ds.events),
        "churn_counts": churn.churn_counts(ds.events, ds.customers),
        "ab_readout": experiments.ab_readout(ds.assignments, ds.events).summary,
        "cohorts": cohort_table(ds.events).summary,
        "customer_summary": customer_summary(ds.events),
    }
"""

DRIVER = ANALYSES + """
import pickle, sys
con = jl.connect(sys.argv[1])
sc = con._session.sparkContext
out = analyses(sys.argv[2])
# executors that registered (the driver's own block manager is one more entry)
out["_executors"] = sc._jsc.sc().getExecutorMemoryStatus().size() - 1
out["_master"] = sc.master
pickle.dump(out, open(sys.argv[3], "wb"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``spark://127.0.0.1:<port>`` of a master with two one-core workers (stopped afterwards)."""
    pyspark = pytest.importorskip("pyspark", reason="the cluster test needs pip install '.[spark]' and Java 17")
    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    port, web = _free_port(), _free_port()
    logs = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(logs)}
    procs = [subprocess.Popen([str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(web)], env=env,
                              stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)]
    url = f"spark://127.0.0.1:{port}"
    for i in range(2):
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
             "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
             "--work-dir", str(logs / f"work{i}")], env=env,
            stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 120
        alive = 0
        while alive < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail(f"the Spark cluster did not start (2 workers expected, {alive} alive); logs in {logs}")
            time.sleep(1)
            try:
                state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{web}/json/", timeout=5))
                alive = sum(w["state"] == "ALIVE" for w in state["workers"])
            except OSError:
                pass
        yield url, env
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_every_area_on_a_two_worker_cluster_equals_duckdb(cluster, small_dir, tmp_path, same):
    url, env = cluster
    out = tmp_path / "cluster.pkl"
    run = subprocess.run([sys.executable, "-c", DRIVER, url, str(small_dir), str(out)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    got = pickle.load(open(out, "rb"))
    assert got.pop("_master") == url
    assert got.pop("_executors") == 2  # the work ran on both workers' executors, not in the driver

    scope: dict = {}
    exec(ANALYSES, scope)
    jl.connect()
    want = scope["analyses"](str(small_dir))
    assert int(got.pop("rows")) == int(want.pop("rows")) > 10_000
    keys = {"funnel": ["stage"], "transitions": ["from"], "path_table": ["path"],
            "churn_counts": None, "ab_readout": ["experiment", "variant", "metric"], "cohorts": None,
            "customer_summary": ["customer_id"]}
    assert set(got) == set(want) == set(keys)
    for name, key in keys.items():
        a, b = want[name], got[name]
        same(a, b, sort_by=key or list(a.columns), what=f"{name} on the cluster")
    assert want["path_table"]["conversions"].sum() > 100 and len(want["customer_summary"]) > 100
