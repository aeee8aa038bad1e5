"""Benchmark: stage transitions, journeylib vs retentioneering, on the same Parquet events.

    .venv/bin/python bench/bench_paths.py --peer-python /tmp/rete/bin/python

retentioneering (the peer for path building) is not a journeylib dependency and needs
pandas 3, so it runs in its own virtual environment, made once with::

    python3 -m venv /tmp/rete && /tmp/rete/bin/pip install retentioneering pyarrow

Both sides read the same month-partitioned Parquet files that ``python -m bench`` writes
(``bench/data/events_1e6`` and ``events_1e7``) and count stage-to-stage transitions
between consecutive staged events of each customer (outbound touches left out):

* ours:  :func:`journeylib.journeys.stages.stage_transitions` (DuckDB window ``lag``);
* peer:  pandas reads the files, ``Eventstream(df)`` (sorts every path) and
         ``transition_graph_data(edge_weight="count")``.

The peer gets the rows already sorted by journeylib's order keys (ts, event, channel,
stage), so ties in time are ordered the same way on both sides and the counts must be
equal. Each side runs in a fresh process, ``--repeat`` times; the median wall time and
the peak RSS (VmHWM) are reported in ``bench/RESULTS_paths.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STAGES = ("awareness", "consideration", "cart", "purchase", "repeat", "advocacy")

PEER_CODE = r"""
import json, sys, time
from pathlib import Path
import pandas as pd

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

import retentioneering
from retentioneering.eventstream import Eventstream
folder, stages = sys.argv[1], sys.argv[2].split(",")
t0 = time.perf_counter()
df = pd.read_parquet(folder, columns=["customer_id", "ts", "event", "channel", "stage"])
df = df[df["stage"].isin(stages) & (df["event"] != "winback_sent")]
df = df.sort_values(["customer_id", "ts", "event", "channel", "stage"], kind="mergesort")
df = df[["customer_id", "stage", "ts"]].set_axis(["user_id", "event", "timestamp"], axis=1)
df["timestamp"] = df["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
stream = Eventstream(df)
m = stream.transition_graph_data(edge_weight="count")
wall = time.perf_counter() - t0
cells = {f"{a}>{b}": int(m.loc[a, b]) for a in m.index for b in m.columns
         if a in stages and b in stages and m.loc[a, b]}
print(json.dumps({"wall_s": wall, "peak_rss_mb": hwm(), "cells": cells,
                  "version": retentioneering.__version__}))
"""


def ours(folder: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench._analysis import _glob, peak_rss_mb

    import journeylib as jl
    from journeylib.core import engine
    from journeylib.journeys.stages import stage_transitions

    jl.connect()
    ev = engine.to_table(_glob(folder, "events"), table="events")
    t0 = time.perf_counter()
    r = stage_transitions(ev, STAGES)
    wall = time.perf_counter() - t0
    c = r.counts
    cells = {f"{a}>{b}": int(c.loc[a, b]) for a in c.index for b in c.columns if c.loc[a, b]}
    return {"wall_s": wall, "peak_rss_mb": peak_rss_mb(), "cells": cells}


def run(cmd: list[str]) -> dict:
    env = dict(os.environ, RETENTIONEERING_NO_TRACK="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["1e6", "1e7"])
    ap.add_argument("--peer-python", default="/tmp/rete/bin/python")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS_paths.md")
    ap.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ours:
        print(json.dumps(ours(args.ours)))
        return
    rows = []
    for size in args.sizes:
        folder = HERE / "data" / f"events_{size}"
        if not (folder / "_BENCH_DONE.json").exists():
            raise SystemExit(f"{folder} is missing: run `python -m bench --sizes {size}` first to simulate it")
        info = json.loads((folder / "_BENCH_DONE.json").read_text())
        res = {"ours": [], "peer": []}
        for _ in range(args.repeat):
            res["ours"].append(run([sys.executable, __file__, "--ours", str(folder)]))
            res["peer"].append(run([args.peer_python, "-c", PEER_CODE, str(folder / "events"), ",".join(STAGES)]))
            print(size, {k: v[-1].get("wall_s", v[-1].get("error")) for k, v in res.items()}, flush=True)
        rows.append((size, info, res))

    lines = ["# Benchmark: stage transitions, journeylib vs retentioneering", "",
             "Command: `.venv/bin/python bench/bench_paths.py` (see its docstring for the peer's environment).", "",
             f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
             f"Each side in a fresh process, {args.repeat} runs, median wall time (reading the Parquet files "
             "included on both sides); peak RSS = the process's VmHWM.", "",
             "| events | ours (s) | ours peak RSS (MB) | retentioneering (s) | its peak RSS (MB) | ratio peer / ours | same counts |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    version = None
    prose: list[str] = []
    for size, info, res in rows:
        o = [r for r in res["ours"] if "wall_s" in r]
        p = [r for r in res["peer"] if "wall_s" in r]
        if not o:
            lines.append(f"| {info['events']:,} | failed: {res['ours'][-1].get('error')} | | | | | |")
            continue
        mo = statistics.median(r["wall_s"] for r in o)
        ro = max(r["peak_rss_mb"] for r in o)
        if not p:
            lines.append(f"| {info['events']:,} | {mo:.2f} | {ro:,.0f} | n/a ({res['peer'][-1].get('error')}) | | | |")
            continue
        mp = statistics.median(r["wall_s"] for r in p)
        rp = max(r["peak_rss_mb"] for r in p)
        same = o[0]["cells"] == p[0]["cells"]
        if not same:
            keys = set(o[0]["cells"]) | set(p[0]["cells"])
            worst = max(abs(o[0]["cells"].get(k, 0) - p[0]["cells"].get(k, 0)) for k in keys)
            same_txt = f"no (largest cell difference {worst:,})"
        else:
            same_txt = f"yes ({sum(o[0]['cells'].values()):,} transitions)"
        lines.append(f"| {info['events']:,} | {mo:.2f} | {ro:,.0f} | {mp:.2f} | {rp:,.0f} | {mp / mo:.1f}x | {same_txt} |")
        prose.append(f"At {info['events']:,} events journeylib is {mp / mo:.1f}x faster than retentioneering "
                     f"({mo:.2f} s vs {mp:.2f} s); same counts: {same_txt}.")
        version = p[0]["version"]
    if version:
        lines += ["", f"retentioneering {version}; ratio > 1 means journeylib is faster.", ""] + [f"- {p}" for p in prose]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
