"""Benchmark: every analysis on Spark (local mode) against the same call on embedded DuckDB.

    .venv/bin/python bench/bench_spark.py --sizes 1e5 1e6

Needs ``pip install -e '.[spark]'`` and Java 17. Uses the month-partitioned Parquet data
that ``python -m bench`` writes (``bench/data/events_1e5`` ...; generated here when
missing). Each analysis runs in a fresh process per engine (``bench._analysis --engine``),
``--repeat`` times, median wall time reported; the JVM and the SparkSession start before
the clock. Spark runs ``local[2]`` on the same 2 cores, so this measures the cost of the
engine, not a cluster's speed-up: Spark's per-query planning and task scheduling make it
slower than DuckDB on one machine, and what matters is that the same call gives the same
result (the ``detail`` column: counts from each result, which must be equal).

Peak RSS is the Python process only; Spark's JVM is a separate process and not counted.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.__main__ import _loadavg, ensure_data, size_label  # noqa: E402
from bench._analysis import ANALYSES  # noqa: E402

SKIP = ("bare_scan",)  # the floor is a DuckDB query by definition


def run(name: str, folder: Path, engine: str, timeout: int) -> dict:
    cmd = [sys.executable, "-m", "bench._analysis", name, str(folder), "--engine", engine]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "n/a", "detail": f"timed out after {timeout} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"status": "n/a", "detail": (p.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


def median_run(name: str, folder: Path, engine: str, repeat: int, timeout: int) -> dict:
    runs = [run(name, folder, engine, timeout) for _ in range(repeat)]
    ok = sorted((r for r in runs if r.get("status") == "ok"), key=lambda r: r["wall_s"])
    return ok[len(ok) // 2] if ok else runs[-1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench/bench_spark.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6])
    ap.add_argument("--analyses", nargs="+", default=[a for a in ANALYSES if a not in SKIP])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS_spark.md")
    args = ap.parse_args(argv)
    import pyspark

    load_start = _loadavg()
    rows = []
    for size in args.sizes:
        folder, info = ensure_data(args.data, int(size), 7)
        for name in args.analyses:
            duck = median_run(name, folder, "duckdb", args.repeat, args.timeout)
            spark = median_run(name, folder, "spark", args.repeat, args.timeout)
            rows.append((info["events"], name, duck, spark))
            print(f"{size_label(int(size))} {name:14s} duckdb {duck.get('wall_s', float('nan')):7.2f} s  "
                  f"spark {spark.get('wall_s', float('nan')):7.2f} s  same: {duck.get('detail') == spark.get('detail')}",
                  flush=True)

    lines = [
        "# Spark (local mode) vs embedded DuckDB: the same analysis calls on the same files",
        "",
        f"Command: `.venv/bin/python bench/bench_spark.py --sizes {' '.join(size_label(int(s)) for s in args.sizes)} "
        f"--repeat {args.repeat}`",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"PySpark {pyspark.__version__} (`local[2]`, UTC). Each analysis and engine in a fresh process, "
        f"median of {args.repeat}; the SparkSession is started before the clock. Peak RSS counts the Python "
        "process only (Spark's JVM is another process).",
        "",
        f"Load average (1/5/15 min) at start: {load_start}; at end: {_loadavg()} (2 cores; other work on the "
        "machine makes both columns slower, the ratio less so).",
        "",
        "| analysis | events | DuckDB (s) | Spark (s) | Spark / DuckDB | DuckDB peak RSS (MB) | same result | result |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for events, name, duck, spark in rows:
        ok = duck.get("status") == "ok" and spark.get("status") == "ok"
        ratio = f"{spark['wall_s'] / duck['wall_s']:.1f}x" if ok else "n/a"
        same = "yes" if ok and duck["detail"] == spark["detail"] else "no" if ok else "n/a"
        fmt = lambda r: f"{r['wall_s']:.2f}" if r.get("status") == "ok" else r.get("detail", "n/a")
        lines.append(f"| {ANALYSES[name][0]} | {events:,} | {fmt(duck)} | {fmt(spark)} | {ratio} | "
                     f"{duck.get('peak_rss_mb', float('nan')):,.0f} | {same} | {spark.get('detail', '')} |")
    ratios = [s["wall_s"] / d["wall_s"] for _, _, d, s in rows if d.get("status") == "ok" and s.get("status") == "ok"]
    if ratios:
        lines += ["", f"Median Spark / DuckDB ratio: {statistics.median(ratios):.1f}x over {len(ratios)} runs. "
                  "On one machine Spark pays per-query planning and task start-up; its use is data that lives "
                  "in a Spark lake or is too big for one machine, where the same notebooks run unchanged."]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
