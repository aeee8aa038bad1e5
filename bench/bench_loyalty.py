"""Benchmark: cohort triangle + RFM + BG/NBD on ~1M customers / ~10M purchase events.

Writes a synthetic purchase log to Parquet (numpy, seeded), then times on DuckDB:

* a bare scan (one aggregate reading every column the analyses use),
* ``cohort_table`` (monthly triangle) and ``rfm_table``; their sum as a ratio to the scan,
* ``customer_summary`` (engine half of BG/NBD),
* ``BetaGeoFitter.fit`` on that summary vs ``lifetimes.BetaGeoFitter.fit`` on the same
  numbers (the ``lifetimes`` package is NOT a journeylib dependency; it is installed
  only to compare here, and skipped when missing).

Usage: ``.venv/bin/python bench/bench_loyalty.py [--customers 1000000] [--out bench/RESULTS_loyalty.md]``
"""
from __future__ import annotations

import argparse
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
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_loyalty.md")))
    args = ap.parse_args()

    import journeylib as jl
    from journeylib import engine
    from journeylib.clv import BetaGeoFitter, customer_summary
    from journeylib.cohorts import cohort_table
    from journeylib.rfm import rfm_table

    tmp = Path(tempfile.mkdtemp(prefix="bench_loyalty_"))
    path = tmp / "events.parquet"
    n_events, t_gen = timed(lambda: make_log(args.customers, args.seed, path))
    print(f"generated {n_events:,} events for {args.customers:,} customers in {t_gen:.1f}s")

    jl.connect()
    t = engine.to_table(str(path))  # canonical columns already; skip load_events validation

    def scan():
        return engine.to_pandas(t.aggregate(n=t.count(), rev=t.revenue.sum(), first=t.ts.min(), last=t.ts.max(),
                                            ev=t.event.length().sum(), ids=t.customer_id.length().sum()))

    def per_customer():
        g = t.group_by("customer_id").aggregate(n=t.count(), last=t.ts.max(), rev=t.revenue.sum())
        return engine.to_pandas(g.aggregate(customers=g.count(), rev=g.rev.sum()))

    scan()  # warm the file cache
    rows = []
    best = lambda f, k=3: min(timed(f)[1] for _ in range(k))
    t_scan = best(scan)
    t_grp = best(per_customer, 2)
    coh, t_coh = timed(lambda: cohort_table(t, period="M"))
    t_coh = min(t_coh, best(lambda: cohort_table(t, period="M"), 2))
    rfm, t_rfm = timed(lambda: rfm_table(t, bins=5))
    t_rfm = min(t_rfm, best(lambda: rfm_table(t, bins=5), 2))
    summ, t_sum = timed(lambda: customer_summary(t, time_unit="W"))
    bgf, t_fit = timed(lambda: BetaGeoFitter().fit(summ))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows += [("bare scan (count, sum, min/max over all rows)", t_scan),
             ("per-customer group-by scan (count, max ts, sum revenue per customer)", t_grp),
             ("cohort_table (monthly retention + revenue triangle)", t_coh),
             ("rfm_table (scores + segments)", t_rfm),
             ("customer_summary (frequency/recency/T/monetary)", t_sum),
             ("journeylib BetaGeoFitter.fit", t_fit)]
    ratio = (t_coh + t_rfm) / t_scan
    print(f"scan {t_scan:.2f}s, cohort {t_coh:.2f}s, rfm {t_rfm:.2f}s -> ratio {ratio:.2f}; "
          f"summary {t_sum:.2f}s, fit {t_fit:.2f}s {bgf.params_}")

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
    lines = [
        "# Benchmark: cohorts + RFM + BG/NBD",
        "",
        f"Synthetic purchase log: {args.customers:,} customers, {n_events:,} purchase events "
        f"(Parquet, {path.stat().st_size / 1e6:.0f} MB), {len(summ):,} customers in the BG/NBD summary, "
        f"{int(coh.cells['size'].groupby(coh.cells['cohort']).first().size)} monthly cohorts.",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
        "(shared with other jobs while measured), DuckDB via Ibis, default threads. "
        "Times are the best of 2-3 runs after a warm-up scan.",
        "",
        "| step | wall time (s) |",
        "|---|---|",
        *[f"| {name} | {sec:.2f} |" for name, sec in rows],
        "",
        f"* Cohort triangle + RFM vs bare scan: **{ratio:.2f}x** (target < 3x: not met). Against one "
        f"per-customer group-by pass, the minimum any per-customer analysis needs: "
        f"{(t_coh + t_rfm) / t_grp:.2f}x (cohort alone {t_coh / t_grp:.2f}x, RFM alone {t_rfm / t_grp:.2f}x).",
        f"* BG/NBD fit (journeylib, BFGS on log-parameters with analytic gradient on the distinct "
        f"(frequency, recency, T) rows): {t_fit:.2f}s; params {mine}.",
        f"* {lt_line}." if t_lt is None else f"* {lt_line}; journeylib is **{t_lt / t_fit:.1f}x faster**.",
        f"* Peak resident memory of the whole run (incl. generating the data in pandas): {peak_mb:,.0f} MB.",
        "",
        f"* Load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
        "(other jobs were running: absolute times are pessimistic and noisy).",
        "",
        "Where the time goes: the bare scan is a vectorised aggregate without hashing. The cohort "
        "triangle needs a per-customer first period (a 1M-group hash aggregate), a join of every event to "
        "it and a distinct count per cell; RFM is one per-customer aggregate plus three pandas rank passes "
        "over 1M rows; the BG/NBD summary needs distinct purchase days per customer. The 3x target "
        "against a bare scan is not met; against a per-customer group-by pass see the ratio above.",
        "",
        "Reproduce: `.venv/bin/python bench/bench_loyalty.py --customers 1000000`.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")
    path.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
