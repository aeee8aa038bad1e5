"""One benchmark analysis in this (fresh) process; prints one JSON line.

    python -m bench._analysis NAME DATA_FOLDER [--threads N] [--memory-limit 4GB] [--temp-directory DIR]
                              [--engine spark]

Wall time covers the analysis only (imports and the connection are set up first);
peak memory is this process's high-water resident set (VmHWM from /proc; ru_maxrss
where /proc is missing), so it includes the Python stack (about 150-250 MB with
pandas/Ibis/DuckDB loaded). A missing or failing analysis reports ``status`` "n/a"
with the reason instead of crashing the suite.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _files(folder: Path, name: str) -> list[str]:
    part = folder / name
    files = sorted(str(p) for p in part.glob("*/*.parquet")) or sorted(str(p) for p in part.glob("*.parquet"))
    if not files and (folder / f"{name}.parquet").exists():
        files = [str(folder / f"{name}.parquet")]
    return files


def _glob(folder: Path, name: str) -> str:
    part = folder / name
    if any(part.glob("*/*.parquet")):
        return str(part / "*" / "*.parquet")
    if any(part.glob("*.parquet")):
        return str(part / "*.parquet")
    return str(folder / f"{name}.parquet")


# --------------------------------------------------------------------------- analyses
def _bare(folder: Path, opts: argparse.Namespace, sql: str) -> Callable[[], Any]:
    """``sql`` (``{events}``: the events files) on a bare DuckDB connection, fetched to Arrow."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if opts.threads:
        con.execute(f"SET threads={int(opts.threads)}")
    if opts.memory_limit:
        con.execute(f"SET memory_limit='{opts.memory_limit}'")
    if opts.temp_directory:
        con.execute(f"SET temp_directory='{opts.temp_directory}'")
    files = _files(folder, "events")
    sql = sql.format(events="read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])")

    def fetch(rel):
        return (getattr(rel, "to_arrow_table", None) or getattr(rel, "fetch_arrow_table"))()

    # The first Arrow fetch of a process imports pyarrow (about 0.5 s); the journeylib
    # children have it imported before their clock starts, so warm it here as well.
    import pyarrow  # noqa: F401

    fetch(con.execute("SELECT 1 AS x"))
    return lambda: fetch(con.execute(sql))


def bare_scan(folder: Path, opts: argparse.Namespace) -> Callable[[], str]:
    """The floor: one DuckDB scan of the same files grouped by customer, fetched to Arrow."""
    query = _bare(folder, opts, "SELECT customer_id, count(*) AS n, max(ts) AS last_ts FROM {events} GROUP BY 1")
    return lambda: f"{query().num_rows:,} customers"


def bare_window(folder: Path, opts: argparse.Namespace) -> Callable[[], str]:
    """What ordering costs: the plain SQL window over each customer's events in time order.

    Each event's previous event time (``LAG(e) OVER (PARTITION BY customer_id ORDER BY
    ts)``), then the longest gap per customer: the smallest ordered analysis, on the same
    bare connection as the scan. Times are epoch microseconds (``epoch_us``), as in
    journeylib: subtracting time-zone-aware timestamps makes intervals through the
    time-zone library, 9x slower than the window itself.
    """
    query = _bare(folder, opts, "SELECT customer_id, max(e - prev) AS longest_gap_us FROM ("
                                "SELECT customer_id, epoch_us(ts) AS e, "
                                "LAG(epoch_us(ts)) OVER (PARTITION BY customer_id ORDER BY ts) AS prev "
                                "FROM {events}) GROUP BY 1")
    return lambda: f"{query().num_rows:,} customers"


def _jl(opts: argparse.Namespace):
    import journeylib as jl

    if getattr(opts, "engine", "duckdb") == "spark":
        import logging

        logging.getLogger("py4j").setLevel(logging.ERROR)
        con = jl.connect("spark")
        con._session.sparkContext.setLogLevel("ERROR")
        con.raw_sql("SELECT 1").collect()  # the JVM and session start before the clock
    else:
        jl.connect(threads=opts.threads, memory_limit=opts.memory_limit, temp_directory=opts.temp_directory)
    return jl


def _tables(folder: Path, opts: argparse.Namespace, *names: str):
    """Raw canonical tables (the simulator writes the canonical schema; validation is timed apart)."""
    _jl(opts)
    from journeylib.core import engine

    return [engine.to_table(_glob(folder, n), table=n) for n in names]


def load_validate(folder: Path, opts: argparse.Namespace):
    """Load and validate the events: the same files the bare scan reads, with every check."""
    _jl(opts)
    from journeylib.core.load import load_events

    files = _glob(folder, "events")

    def run() -> str:
        n = int(load_events(files).count().execute())
        return f"{n:,} events validated"

    return run


def load_dataset(folder: Path, opts: argparse.Namespace):
    """Load and validate every table of the folder (events, messages, customers, assignments, ...)."""
    _jl(opts)
    from journeylib.simulate.datasets import load_dataset as load

    def run() -> str:
        ds = load(folder)
        n = int(ds.events.count().execute())
        others = ", ".join(x.table for x in ds.inputs if x.table != "events")
        return f"{n:,} events validated (+ {others})"

    return run


def funnel(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.journeys.stages import funnel as f

    def run() -> str:
        s = f(ev, window=30).summary
        return f"closed 6-stage funnel, 30-day window; {int(s['customers'].iloc[0]):,} entrants"

    return run


def transitions(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.journeys.stages import stage_transitions

    def run() -> str:
        r = stage_transitions(ev)
        return f"{int(r.counts.to_numpy().sum()):,} stage transitions"

    return run


def paths_markov(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.journeys.attribution import attribute
    from journeylib.journeys.paths import path_table

    def run() -> str:
        pt = path_table(ev)
        attribute(pt, models=["markov"], n_boot=0)
        return f"{len(pt):,} distinct paths, exact Markov removal effects"

    return run


def survival(folder: Path, opts: argparse.Namespace):
    ev, cu = _tables(folder, opts, "events", "customers")
    from journeylib.retention.churn import churn_counts
    from journeylib.retention.survival import kaplan_meier

    def run() -> str:
        cnt = churn_counts(ev, cu, by=["segment"], churn_after=60)
        kaplan_meier(cnt, by="segment", weights_col="n")
        return f"churn counts by segment ({len(cnt):,} cells) + weighted Kaplan-Meier"

    return run


def ab_readout(folder: Path, opts: argparse.Namespace):
    ev, asg = _tables(folder, opts, "events", "assignments")
    from journeylib.experiments.readout import ab_readout as readout

    def run() -> str:
        r = readout(asg, ev)
        n = len(r.summary) if hasattr(r, "summary") else 0
        return f"A/B readout, {n} comparison rows"

    return run


def cohorts(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.loyalty.cohorts import cohort_table

    def run() -> str:
        cohort_table(ev, period="M")
        return "monthly retention + revenue triangle"

    return run


def rfm(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.loyalty.rfm import rfm_table

    def run() -> str:
        r = rfm_table(ev)
        return f"RFM scores for {len(r):,} purchasers"

    return run


def bgnbd(folder: Path, opts: argparse.Namespace):
    (ev,) = _tables(folder, opts, "events")
    from journeylib.loyalty.clv import BetaGeoFitter, customer_summary

    def run() -> str:
        s = customer_summary(ev)
        BetaGeoFitter().fit(s)
        return f"customer summary ({len(s):,} purchasers) + BG/NBD fit"

    return run


ANALYSES: dict[str, tuple[str, Callable[..., Callable[[], str]]]] = {
    "bare_scan": ("bare DuckDB scan + group by customer (floor)", bare_scan),
    "bare_window": ("reference: bare DuckDB window, LAG per customer by time", bare_window),
    "load_validate": ("load + validate events", load_validate),
    "load_dataset": ("load + validate the whole dataset (every table of the folder)", load_dataset),
    "funnel": ("closed funnel, 6 stages, 30-day window", funnel),
    "transitions": ("stage transitions (window lag)", transitions),
    "paths_markov": ("path table + exact Markov attribution", paths_markov),
    "survival": ("churn counts by segment + Kaplan-Meier", survival),
    "ab_readout": ("A/B readout (all experiments, default metrics, CUPED)", ab_readout),
    "cohorts": ("cohort triangle (monthly)", cohorts),
    "rfm": ("RFM table", rfm),
    "bgnbd": ("customer summary + BG/NBD fit", bgnbd),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench._analysis")
    ap.add_argument("name", choices=sorted(ANALYSES))
    ap.add_argument("folder", type=Path)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--temp-directory", default=None)
    ap.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    opts = ap.parse_args(argv)
    out: dict[str, Any] = {"name": opts.name}
    try:
        run = ANALYSES[opts.name][1](opts.folder, opts)
    except Exception as exc:  # a module that does not import or set up: n/a
        out.update(status="n/a", detail=f"setup failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        print(json.dumps(out))
        return
    t0 = time.perf_counter()
    try:
        detail = run()
        out.update(status="ok", detail=detail)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        out.update(status="n/a", detail=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
