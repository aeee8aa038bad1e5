"""A standalone Spark cluster: one master and two workers, each in its own JVM.

The other parity files use ``local[2]``, where driver and executors share one JVM. Here
the notebooks' path to a cluster is exercised: ``jl.connect("spark://host:port")`` from a
separate driver process, tasks shipped to two worker processes (each with one core and
its own executor), files read by the executors. The results of one analysis per area
must equal those of DuckDB in this process over the same Parquet files.

Run as root (as CI is), the master, each worker and the driver are four hosts: network
namespaces with their own addresses and loopback, joined by a bridge, so every
driver-master-executor connection and shuffle crosses a network (the files come from
the one shared file system, as a mounted lake would). Without root they share the
loopback interface of one host.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
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
from journeylib.retention import churn
from journeylib.experiments import readout as experiments
from journeylib.journeys import paths, stages
from journeylib.loyalty.clv import customer_summary
from journeylib.loyalty.cohorts import cohort_table


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
# where the executors that registered run: block managers other than the driver's own
jsc = sc._jsc.sc()
me = jsc.env().blockManager().blockManagerId().hostPort()
managers = jsc.getExecutorMemoryStatus().keys().mkString(",").split(",")
out["_executor_hosts"] = [m.rsplit(":", 1)[0] for m in managers if m != me]
out["_master"] = sc.master
pickle.dump(out, open(sys.argv[3], "wb"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROLES = ("master", "worker0", "worker1", "driver")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def _hosts():
    """``{role: (command prefix, address)}``: one network namespace per role on a bridge
    (10.77.0.0/24, this host 10.77.0.1) when root, else every role on 127.0.0.1."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        yield {r: ([], "127.0.0.1") for r in ROLES}
        return
    tag = f"jl{os.getpid() % 10000}"
    bridge = f"{tag}br"
    made: list[str] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", "10.77.0.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        hosts = {}
        for i, role in enumerate(ROLES):
            ns, veth, addr = f"{tag}-{role}", f"{tag}v{i}", f"10.77.0.{i + 2}"
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", bridge, "up")
            for cmd in (["addr", "add", f"{addr}/24", "dev", "eth0"], ["link", "set", "eth0", "up"],
                        ["link", "set", "lo", "up"]):
                _ip("netns", "exec", ns, "ip", *cmd)
            hosts[role] = (["ip", "netns", "exec", ns], addr)
        yield hosts
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(spark://<master>:<port>, env, driver host)`` of a master with two one-core workers."""
    pyspark = pytest.importorskip("pyspark", reason="the cluster test needs pip install '.[spark]' and Java 17")
    home = Path(pyspark.__file__).parent
    spark_class = str(home / "bin" / "spark-class")
    logs = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable, "SPARK_LOG_DIR": str(logs)}
    with _hosts() as hosts:
        (pre, master), port, web = hosts["master"], _free_port(), _free_port()
        url = f"spark://{master}:{port}"
        procs = [subprocess.Popen([*pre, spark_class, "org.apache.spark.deploy.master.Master", "--host", master,
                                   "--port", str(port), "--webui-port", str(web)],
                                  env={**env, "SPARK_LOCAL_IP": master},
                                  stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)]
        for i in range(2):
            pre, addr = hosts[f"worker{i}"]
            procs.append(subprocess.Popen(
                [*pre, spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", addr,
                 "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
                 "--work-dir", str(logs / f"work{i}")], env={**env, "SPARK_LOCAL_IP": addr},
                stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT))
        try:
            deadline = time.monotonic() + 120
            alive = 0
            while alive < 2:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    pytest.fail(f"the Spark cluster did not start (2 workers expected, {alive} alive); logs in {logs}")
                time.sleep(1)
                try:
                    state = json.load(urllib.request.urlopen(f"http://{master}:{web}/json/", timeout=5))
                    alive = sum(w["state"] == "ALIVE" for w in state["workers"])
                except OSError:
                    pass
            yield url, env, hosts
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_every_area_on_a_two_worker_cluster_equals_duckdb(cluster, small_dir, tmp_path, same):
    url, env, hosts = cluster
    out = tmp_path / "cluster.pkl"
    pre, driver = hosts["driver"]
    run = subprocess.run([*pre, sys.executable, "-c", DRIVER, url, str(small_dir), str(out)],
                         env={**env, "SPARK_LOCAL_IP": driver}, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    got = pickle.load(open(out, "rb"))
    assert got.pop("_master") == url
    # the work ran on both workers' executors (at the workers' addresses), not in the driver
    assert sorted(got.pop("_executor_hosts")) == sorted(hosts[f"worker{i}"][1] for i in range(2))

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
