"""Benchmark: A/B readout of 10 experiments x 5 metrics over ~10 million events.

Compares the wall time and peak memory of the full readout (engine half
``variant_stats`` + stats half ``readout_from_stats``) with a bare scan of the same
Parquet data (one aggregate touching the same columns). Target: under 3x the scan.

Usage::

    .venv/bin/python bench/bench_experiments.py --events 10000000 --data /tmp/bench_ab
    .venv/bin/python bench/bench_experiments.py --write-results   # also writes bench/RESULTS_experiments.md

Data: simulated journeys (``simulate_journeys``) in chunks of 100,000 customers with
distinct customer ids; 10 experiments, each assigning a random half of the eligible
customers (two arms, one with three arms) at the simulator's assignment times.
Validation by ``load_events`` is not part of the timing (the readout reads the
Parquet files directly; validation is a one-off cost per file).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 100_000
N_EXPERIMENTS = 10


def generate(folder: Path, n_events: int, seed: int = 1) -> dict:
    import numpy as np
    import pandas as pd

    from journeylib.simulate.journeys import simulate_journeys

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events").mkdir(exist_ok=True)
    total, k, assign = 0, 0, []
    while total < n_events:
        sim = simulate_journeys(CHUNK, seed=seed + k)
        prefix = f"K{k:03d}_"
        ev = sim.events.assign(customer_id=prefix + sim.events["customer_id"])
        ev.to_parquet(folder / "events" / f"part{k:03d}.parquet", index=False)
        a = sim.assignments[sim.assignments["experiment"] == "personalised_offer"]
        assign.append(a.assign(customer_id=prefix + a["customer_id"])[["customer_id", "assigned_at"]])
        total += len(ev)
        k += 1
        print(f"chunk {k}: {total:,} events", flush=True)
    base = pd.concat(assign, ignore_index=True)
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(N_EXPERIMENTS):
        pick = base[rng.random(len(base)) < 0.5]
        arms = np.array(["control", "b", "c"] if e == 0 else ["control", "b"])
        rows.append(pick.assign(experiment=f"exp_{e:02d}", variant=arms[rng.integers(0, len(arms), len(pick))]))
    asg = pd.concat(rows, ignore_index=True)[["customer_id", "experiment", "variant", "assigned_at"]]
    asg.to_parquet(folder / "assignments.parquet", index=False)
    info = {"events": int(total), "customers": int(k * CHUNK), "assignments": int(len(asg)),
            "experiments": N_EXPERIMENTS}
    (folder / "info.json").write_text(json.dumps(info))
    return info


def _peak_rss_mb() -> float:
    """High-water RSS of this process: VmHWM (reset at exec, unlike ru_maxrss, which a
    child inherits from a big parent), falling back to ru_maxrss off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path, what: str) -> dict:
    import ibis

    from journeylib.core import engine
    from journeylib.experiments import readout as ex

    import statsmodels.stats.multitest  # noqa: F401  (imports are not part of the timing)
    from scipy import integrate, optimize, stats  # noqa: F401

    con = engine.connect()
    events = con.read_parquet(str(folder / "events" / "*.parquet"))
    t0 = time.perf_counter()
    if what == "scan":
        out = events.aggregate(n=events.count(), revenue=events.revenue.sum(), last=events.ts.max(),
                               purchases=(events.event == "purchase").cast("int64").sum(),
                               first_id=events.customer_id.min()).to_pandas()
        n_out = len(out)
    elif what == "scan_group":  # the floor of every per-customer analysis (bench/__main__.py's bare scan)
        out = events.group_by("customer_id").aggregate(n=events.count(), last_ts=events.ts.max()).to_pyarrow()
        n_out = out.num_rows
    else:
        assignments = con.read_parquet(str(folder / "assignments.parquet"))
        metrics = (*ex.DEFAULT_METRICS, ex.count_per_user("add_to_cart", name="carts_per_user"))
        st = ex.variant_stats(assignments, events, metrics, window_days=28)
        t_engine = time.perf_counter() - t0
        ro = ex.readout_from_stats(st)
        n_out = len(ro.summary)
        assert n_out == 5 * (N_EXPERIMENTS + 1), n_out
    wall = time.perf_counter() - t0
    peak_mb = _peak_rss_mb()
    del ibis
    out = {"what": what, "wall_s": wall, "peak_rss_mb": peak_mb, "rows_out": n_out}
    if what == "readout":
        out["engine_s"] = t_engine
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--data", default="/tmp/bench_ab")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--measure", choices=["scan", "scan_group", "readout"])
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    folder = Path(args.data)
    if args.measure:
        print(json.dumps(measure(folder, args.measure)))
        return
    if not (folder / "info.json").exists():
        t = time.perf_counter()
        generate(folder, args.events)
        print(f"generated in {time.perf_counter() - t:.0f} s")
    info = json.loads((folder / "info.json").read_text())
    runs = {"scan": [], "scan_group": [], "readout": []}
    for _ in range(args.repeats):
        for what in runs:  # each in a fresh process: separate peak memory
            out = subprocess.run([sys.executable, __file__, "--data", str(folder), "--measure", what],
                                 capture_output=True, text=True, check=True)
            runs[what].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {w: statistics.median(r["wall_s"] for r in rs) for w, rs in runs.items()}
    mem = {w: max(r["peak_rss_mb"] for r in rs) for w, rs in runs.items()}
    ratio = med["readout"] / med["scan"]
    ratio_group = med["readout"] / med["scan_group"]
    import duckdb
    import ibis

    lines = [
        "# Benchmark: A/B readout (experiments.py)",
        "",
        f"Command: `.venv/bin/python bench/bench_experiments.py --events {args.events} --write-results`",
        "",
        f"- Data: {info['events']:,} events (simulated, {info['customers']:,} customers, Parquet, "
        f"{len(list((folder / 'events').glob('*.parquet')))} files), {info['assignments']:,} assignments in "
        f"{info['experiments']} experiments (one with three arms), 5 metrics (conversion, purchases, revenue, "
        "revenue per order, add-to-cart count), 28-day window plus 28-day CUPED pre-period.",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs visible (shared with other jobs), "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, Ibis {ibis.__version__}.",
        f"- {args.repeats} runs each, every run in a fresh process (cold DuckDB, warm OS file cache; imports not "
        "timed); wall time = median, peak memory = max over runs of the process' "
        "high-water RSS (VmHWM) (includes the Python stack, about 150-200 MB).",
        "",
        "| step | wall time (s) | peak RSS (MB) | runs (s) |",
        "|---|---|---|---|",
    ]
    for w, label in (("scan", "bare scan (one aggregate over the same columns)"),
                     ("scan_group", "bare scan-and-group (group by customer: count, max ts; to Arrow)"),
                     ("readout", "full readout: variant_stats + readout_from_stats (55 comparisons)")):
        lines.append(f"| {label} | {med[w]:.2f} | {mem[w]:.0f} | "
                     + ", ".join(f"{r['wall_s']:.2f}" for r in runs[w]) + " |")
    eng = statistics.median(r["engine_s"] for r in runs["readout"])
    lines += ["", f"Of the readout, the engine half (`variant_stats`, two DuckDB queries) takes {eng:.2f} s "
              f"(median) and the stats half (55 comparisons in pandas/scipy) {med['readout'] - eng:.2f} s.",
              "", f"**Ratio readout / bare scan-and-group: {ratio_group:.2f}x** (target: under 3x; the floor that "
              "`python -m bench` uses for every analysis: a per-user readout needs a per-user grouping).",
              "", f"Ratio readout / one global aggregate (no grouping, the cheapest possible pass): {ratio:.2f}x; "
              f"engine half alone: {eng / med['scan']:.2f}x.", ""]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        (ROOT / "bench" / "RESULTS_experiments.md").write_text(text)


if __name__ == "__main__":
    main()
