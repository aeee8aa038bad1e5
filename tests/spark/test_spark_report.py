"""A report run on Spark shows only what the analysis says (issue 28).

Spark's JVM writes its log (``WARN Utils: Your hostname ... resolves to a loopback address``,
``WARN NativeCodeLoader``) and console progress bars (``[Stage 0:> (0 + 1) / 1]``) to the
process's stderr; under the report runner that is the run folder's ``engine.log``, never the
HTML. Needs pyspark and Java 17 (``make test-spark``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from journeylib.report import runner

pytestmark = [pytest.mark.spark, pytest.mark.slow]

JVM_LINE = re.compile(r"^\s*(\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} )?(WARN|INFO|ERROR) \w+:|\[Stage \d+|"
                      r"Setting default log level|log4j|Using Spark's default", re.M)


def test_report_02_on_spark_has_no_jvm_log_line(tmp_path):
    pytest.importorskip("pyspark", reason="needs pip install '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("needs Java 17 on PATH")
    res = runner.run_notebook("02_retention_survival", {"engine": "spark"}, tmp_path, timeout=1800)
    assert res.ok, res.error
    page = res.html.read_text()
    assert "WARN " not in page and "[Stage " not in page
    assert JVM_LINE.search(page) is None, JVM_LINE.search(page).group(0)
    notebook_text = json.dumps([c.get("outputs", []) for c in json.loads(res.ipynb.read_text())["cells"]])
    assert "WARN " not in notebook_text and "[Stage " not in notebook_text
    record = json.loads((res.html.parent / "run.json").read_text())
    assert record["notebooks"][0]["parameters"]["engine"] == "spark"
    log = (res.html.parent / "engine.log").read_text()
    assert log.startswith("=== 02_retention_survival.ipynb: try 1 started")


def test_spark_session_writes_its_jvm_output_to_the_engine_log(tmp_path):
    """Outside the runner: ``jl.connect("spark")`` with JOURNEYLIB_ENGINE_LOG set sends the JVM's
    output to that file; the process's own stderr gets none of it, and no progress bar."""
    pytest.importorskip("pyspark", reason="needs pip install '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("needs Java 17 on PATH")
    log = tmp_path / "engine.log"
    code = ("import journeylib as jl\n"
            "con = jl.connect('spark')\n"
            "print(con._session.range(200000).selectExpr('sum(id) AS s').collect()[0].s)\n"
            "con._session.stop()\n")
    env = {**os.environ, "JOURNEYLIB_ENGINE_LOG": str(log)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(sum(range(200000)))
    assert JVM_LINE.search(proc.stderr) is None, proc.stderr[:2000]
    assert log.exists() and JVM_LINE.search(log.read_text()), log.read_text()[:2000]
