"""Benchmark: cohort triangle + RFM + BG/NBD on ~1M customers / ~10M purchase events.

Writes a synthetic purchase log to Parquet (numpy, seeded), then times on DuckDB:

* a bare scan (one aggregate reading every column the analyses use),
* ``cohort_table`` (monthly triangle) and ``rfm_table``; their sum as a ratio to the scan,
* ``customer_summary`` (engine half of BG/NBD),
* ``BetaGeoFitter.fit`` on that summary vs ``lifetimes.BetaGeoFitter.fit`` on the same
  numbers (the ``lifetimes`` package is NOT a journeylib dependency; it is installed
  only to compare here, and skipped when missing).

Two inputs: ``--source purchases`` (default) is a purchase-only log (every event is a
purchase, the heaviest case for the per-customer work); ``--source simulator`` is the
journeylib simulator's full event log (``simulate_to_parquet``, partitioned by month;
about a quarter of the customers purchase). ``--data PATH`` reuses an existing events
Parquet file or glob instead of generating one.

Usage: ``.venv/bin/python bench/bench_loyalty.py [--customers 1000000] [--source purchases|simulator]
[--data PATH] [--out bench/RESULTS_loyalty.md]``
"""
from __future__ import annotations

import argparse
import glob
import shutil
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_log(n: int, seed: int, path: Path) -> int:
    """Purchases of n customers: Gamma-mixed Poisson rates, exponential lifetimes, 2 years."""
    rng = np.random.default_rng(seed)
    t0 = rng.uniform(0, 365, n)
    lam = rng.gamma(1.0, 0.03, n)  # purchases per day
    death = t0 + rng.exponential(400, n)
    stop = np.minimum(death, 730.0)
    k = rng.poisson(lam * (stop - t0))
    cust = np.repeat(np.arange(n), k)
    t = rng.uniform(t0[cust], stop[cust])
    cust = np.concatenate([np.arange(n), cust])
    t = np.concatenate([t0, t])
    start = pd.Timestamp("2023-01-01", tz="UTC")
    df = pd.DataFrame({
        "customer_id": pd.Series([f"C{i:07d}" for i in range(n)]).to_numpy()[cust],
        "ts": start + pd.to_timedelta(np.floor(t * 86400), unit="s"),
        "event": "purchase",
        "channel": None,
        "stage": None,
        "revenue": np.round(rng.gamma(6.0, 40 / 6.0, len(t)), 2),
    })
    df.to_parquet(path, index=False, row_group_size=1_000_000)
    return len(df)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", choices=["purchases", "simulator"], default="purchases")
    ap.add_argument("--data", default=None, help="existing events Parquet file or glob (skips generation)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best is kept)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_loyalty.md")))
    args = ap.parse_args()

    import journeylib as jl
    from journeylib.core import engine
    from journeylib.loyalty.clv import BetaGeoFitter, customer_summary
    from journeylib.loyalty.cohorts import cohort_table
    from journeylib.loyalty.rfm import rfm_table

    tmp = None
    if args.data:
        path, t_gen = args.data, 0.0
    elif args.source == "purchases":
        tmp = Path(tempfile.mkdtemp(prefix="bench_loyalty_"))
        path = tmp / "events.parquet"
        _, t_gen = timed(lambda: make_log(args.customers, args.seed, path))
    else:
        from journeylib.simulate.journeys import simulate_to_parquet

        tmp = Path(tempfile.mkdtemp(prefix="bench_loyalty_sim_"))
        _, t_gen = timed(lambda: simulate_to_parquet(tmp, args.customers, seed=args.seed, progress=False))
        path = tmp / "events" / "*" / "*.parquet"
    files = glob.glob(str(path))
    size_mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"data ready in {t_gen:.1f}s: {path} ({size_mb:.0f} MB)")

    jl.connect()
    t = engine.to_table(str(path))  # canonical columns already; skip load_events validation

    def scan():
        return engine.to_pandas(t.aggregate(n=t.count(), rev=t.revenue.sum(), first=t.ts.min(), last=t.ts.max(),
                                            ev=t.event.length().sum(), ids=t.customer_id.length().sum()))

    def per_customer():
        g = t.group_by("customer_id").aggregate(n=t.count(), last=t.ts.max(), rev=t.revenue.sum())
        return engine.to_pandas(g.aggregate(customers=g.count(), rev=g.rev.sum()))

    n_events, n_purch = (int(v) for v in engine.to_pandas(t.aggregate(
        n=t.count(), p=(t.event == "purchase").cast("int64").sum())).iloc[0])
    print(f"{n_events:,} events, {n_purch:,} purchases")
    scan()  # warm the file cache
    rows = []
    # interleaved rounds (scan, group-by, cohort, RFM), best of each: on a shared machine the
    # load changes from second to second, and the ratios compare runs made side by side
    import duckdb

    con = duckdb.connect()  # the second floor: the bare LAG window per customer (order-dependent work)
    con.execute("SET TimeZone='UTC'")
    window_sql = ("SELECT customer_id, max(e - prev) FROM (SELECT customer_id, epoch_us(ts) AS e, LAG(epoch_us(ts)) "
                  f"OVER (PARTITION BY customer_id ORDER BY ts) AS prev FROM read_parquet('{path}')) GROUP BY 1")
    times: dict[str, list[float]] = {"scan": [], "grp": [], "win": [], "coh": [], "rfm": []}
    for _ in range(args.rounds):
        times["scan"].append(timed(scan)[1])
        times["grp"].append(timed(per_customer)[1])
        times["win"].append(timed(lambda: con.execute(window_sql).arrow())[1])
        coh, sec = timed(lambda: cohort_table(t, period="M"))
        times["coh"].append(sec)
        rfm, sec = timed(lambda: rfm_table(t, bins=5))
        times["rfm"].append(sec)
    t_scan, t_grp, t_win, t_coh, t_rfm = (min(times[k]) for k in ("scan", "grp", "win", "coh", "rfm"))
    summ, t_sum = timed(lambda: customer_summary(t, time_unit="W"))
    bgf, t_fit = timed(lambda: BetaGeoFitter().fit(summ))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows += [("bare scan (count, sum, min/max over all rows)", t_scan),
             ("per-customer group-by scan (count, max ts, sum revenue per customer)", t_grp),
             ("floor: bare LAG window per customer (previous event time by ts)", t_win),
             ("cohort_table (monthly retention + revenue triangle)", t_coh),
             ("rfm_table (scores + segments)", t_rfm),
             ("customer_summary (frequency/recency/T/monetary)", t_sum),
             ("journeylib BetaGeoFitter.fit", t_fit)]
    ratio = (t_coh + t_rfm) / t_scan
    print(f"scan {t_scan:.2f}s, cohort {t_coh:.2f}s ({t_coh / t_scan:.2f}x), rfm {t_rfm:.2f}s "
          f"({t_rfm / t_scan:.2f}x) -> together {ratio:.2f}x; summary {t_sum:.2f}s, fit {t_fit:.2f}s {bgf.params_}")

    lt_line = "lifetimes not installed: comparison skipped"
    t_lt = None
    try:
        from lifetimes import BetaGeoFitter as LtBGF

        lt, t_lt = timed(lambda: LtBGF().fit(summ["frequency"], summ["recency"], summ["T"]))
        lt_params = {k: float(lt.params_[k]) for k in ("r", "alpha", "a", "b")}
        diff = max(abs(bgf.params_[k] / v - 1) for k, v in lt_params.items())
        lt_line = (f"lifetimes 0.11.3 BetaGeoFitter.fit: {t_lt:.2f}s, params "
                   + ", ".join(f"{k}={v:.4f}" for k, v in lt_params.items())
                   + f"; max relative difference to journeylib {diff:.1e}")
        rows.append(("lifetimes BetaGeoFitter.fit (same summary)", t_lt))
        print(lt_line)
    except ImportError:
        pass

    mine = ", ".join(f"{k}={v:.4f}" for k, v in bgf.params_.items())
    met = lambda r: "met" if r < 3 else "not met"  # noqa: E731
    src = ("purchase-only synthetic log (every event a purchase)" if args.source == "purchases" and not args.data
           else "journeylib simulator event log (simulate_to_parquet, Parquet partitioned by month)"
           if args.source == "simulator" and not args.data else f"existing data {args.data}")
    lines = [
        "# Benchmark: cohorts + RFM + BG/NBD",
        "",
        f"Input: {src}; {args.customers:,} customers, {n_events:,} events of which {n_purch:,} purchases "
        f"(Parquet, {size_mb:.0f} MB), {len(summ):,} purchasers in the BG/NBD summary, "
        f"{int(coh.cells['size'].groupby(coh.cells['cohort']).first().size)} monthly cohorts.",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
        "(shared with other jobs while measured), DuckDB via Ibis, default threads. "
        f"Times are the best of {args.rounds} interleaved rounds (scan, group-by, cohort, RFM) after a warm-up scan.",
        "",
        "| step | wall time (s) | ratio to bare scan | ratio to bare window |",
        "|---|---|---|---|",
        *[f"| {name} | {sec:.2f} | {sec / t_scan:.2f}x | {sec / t_win:.2f}x |" for name, sec in rows],
        "",
        f"* cohort_table alone: **{t_coh / t_scan:.2f}x** the bare scan (target < 3x: {met(t_coh / t_scan)}); "
        f"rfm_table alone: **{t_rfm / t_scan:.2f}x** ({met(t_rfm / t_scan)}); both together {ratio:.2f}x. "
        f"Against one per-customer group-by pass: cohort {t_coh / t_grp:.2f}x, RFM {t_rfm / t_grp:.2f}x.",
        f"* BG/NBD fit (journeylib, BFGS on log-parameters with analytic gradient on the distinct "
        f"(frequency, recency, T) rows): {t_fit:.2f}s; params {mine}.",
        f"* {lt_line}." if t_lt is None else f"* {lt_line}; journeylib is **{t_lt / t_fit:.1f}x faster**.",
        f"* Peak resident memory of the whole run (incl. generating the data): {peak_mb:,.0f} MB.",
        "",
        f"* Load average after measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
        "(other jobs were running: absolute times are pessimistic and noisy).",
        "",
        "Where the time goes. The bare scan is a vectorised aggregate without hashing. rfm_table is one "
        "per-customer hash aggregate (last purchase as EPOCH_US integers, count, sum) plus three rank passes "
        "in numpy over the customers. cohort_table is one query (plus the max-timestamp lookup): the month of "
        "each purchase is year*12+month of MAKE_TIMESTAMP(EPOCH_US(ts)) (no ICU calendar, no calendar join), "
        "the cohort is a per-customer minimum (one hash group per customer), every purchase is joined to it "
        "and the cells are a small group-by with a distinct customer count. Its floor is that join probe plus "
        "the distinct (cell, customer) pairs, which grow with the number of purchases, not with the events.",
        "",
        f"Reproduce: `.venv/bin/python bench/bench_loyalty.py --customers {args.customers} --source {args.source}`.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")
    if tmp is not None:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
