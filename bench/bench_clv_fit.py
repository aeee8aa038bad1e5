"""Benchmark: the CLV model fits (BG/NBD, MBG/NBD, Gamma-Gamma) on 1M customers against lifetimes.

The input is ``bench_loyalty``'s purchase-only log (every event a purchase: 1M purchasers,
about 667k distinct (frequency, recency, T) rows). ``customer_summary`` turns it into one row
per customer (weeks); the fits are timed on that summary, journeylib and lifetimes side by side
in interleaved rounds (best of each), with the largest relative parameter difference. The
summary's spends have one Gamma per purchase and no per-customer heterogeneity, so the
Gamma-Gamma ``q`` runs off (lifetimes does not converge there); the Gamma-Gamma comparison
therefore also uses a planted Gamma-Gamma spend (p=6, q=4, gamma=15) on the same frequencies.

Every table also prints the two floors measured on the same event log in the same run: the
bare scan-and-group (``SELECT customer_id, count(*), max(ts) ... GROUP BY 1``) and the bare
``LAG`` window per customer. lifetimes is not a journeylib dependency: install it apart
(e.g. ``pip install --target /tmp/lt --no-deps lifetimes==0.11.3 autograd dill`` and run with
``PYTHONPATH=/tmp/lt``); without it the comparison rows are skipped.

Usage: ``.venv/bin/python bench/bench_clv_fit.py [--customers 1000000] [--rounds 2]
[--out bench/RESULTS_clv_fit.md]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loyalty import make_log, timed  # noqa: E402


def floors(path: Path) -> dict[str, float]:
    """Best-of-3 wall time of the bare scan-and-group and the bare LAG window per customer."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    src = f"read_parquet('{path}')"
    sql = {"scan": f"SELECT customer_id, count(*) AS n, max(ts) AS last_ts FROM {src} GROUP BY 1",
           "window": "SELECT customer_id, max(e - prev) AS longest_gap_us FROM (SELECT customer_id, "
                     "epoch_us(ts) AS e, LAG(epoch_us(ts)) OVER (PARTITION BY customer_id ORDER BY ts) AS prev "
                     f"FROM {src}) GROUP BY 1"}
    out = {k: [] for k in sql}
    con.execute(sql["scan"]).arrow()  # warm the file cache
    for _ in range(3):
        for k, q in sql.items():
            out[k].append(timed(lambda: con.execute(q).arrow())[1])
    return {k: min(v) for k, v in out.items()}


def planted_spend(x: np.ndarray, seed: int, p: float = 6.0, q: float = 4.0, gamma: float = 15.0) -> np.ndarray:
    """Mean of x Gamma(p, nu) spends per customer, nu ~ Gamma(q, gamma) (Fader & Hardie 2013)."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / gamma, len(x))
    m = np.full(len(x), np.nan)
    k = x > 0
    m[k] = rng.gamma(p * x[k], 1 / nu[k]) / x[k]
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best of each is kept)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_clv_fit.md")))
    args = ap.parse_args()

    import journeylib as jl
    from journeylib.core import engine
    from journeylib.loyalty.clv import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, customer_summary

    try:
        import lifetimes
    except ImportError:
        lifetimes = None
    tmp = Path(tempfile.mkdtemp(prefix="bench_clv_fit_"))
    try:
        path = tmp / "events.parquet"
        n_events = make_log(args.customers, args.seed, path)
        fl = floors(path)
        jl.connect()
        summ, t_sum = timed(lambda: customer_summary(engine.to_table(str(path)), time_unit="W"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    x, tx, T = (summ[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    distinct = len(np.unique(np.column_stack([x, tx, T]), axis=0))
    planted = summ.assign(monetary_value=planted_spend(x, args.seed + 1))
    rep, rep_p = summ[summ.frequency > 0], planted[planted.frequency > 0]
    print(f"{n_events:,} events, {len(summ):,} customers, {distinct:,} distinct (x, t_x, T); floors: "
          f"scan {fl['scan']:.2f}s, window {fl['window']:.2f}s; summary {t_sum:.2f}s", flush=True)

    cases = [  # name, journeylib fit, lifetimes fit (or None)
        ("BG/NBD", lambda: BetaGeoFitter().fit(summ).params_,
         lifetimes and (lambda: lifetimes.BetaGeoFitter().fit(summ.frequency, summ.recency, summ["T"]).params_)),
        ("MBG/NBD", lambda: ModifiedBetaGeoFitter().fit(summ).params_,
         lifetimes and (lambda: lifetimes.ModifiedBetaGeoFitter().fit(summ.frequency, summ.recency,
                                                                      summ["T"]).params_)),
        ("Gamma-Gamma, planted spend", lambda: GammaGammaFitter().fit(planted).params_,
         lifetimes and (lambda: lifetimes.GammaGammaFitter().fit(rep_p.frequency, rep_p.monetary_value).params_)),
        ("Gamma-Gamma, the log's spend", lambda: GammaGammaFitter().fit(summ).params_,
         lifetimes and (lambda: lifetimes.GammaGammaFitter().fit(rep.frequency, rep.monetary_value).params_)),
    ]
    best: dict[str, dict[str, float]] = {}
    params: dict[str, dict[str, object]] = {}
    for k in range(args.rounds):
        for name, ours, theirs in cases:
            for who, fn in (("journeylib", ours), ("lifetimes", theirs)):
                if fn is None:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        got, sec = timed(fn)
                    got = {p: float(v) for p, v in dict(got).items()}
                except Exception as exc:  # lifetimes' ConvergenceError: report, do not stop
                    got, sec = f"failed: {type(exc).__name__}", float("nan")
                params.setdefault(name, {})[who] = got
                prev = best.setdefault(name, {}).get(who, float("inf"))
                best[name][who] = min(prev, sec) if sec == sec else prev
                print(f"  round {k + 1} {name:30s} {who:10s} {sec:6.2f}s {got}", flush=True)

    mach = (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs shared with other "
            f"jobs (load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())})")
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lt_ver = getattr(lifetimes, "__version__", "not installed")
    lines = [f"# Benchmark: CLV model fits on {args.customers:,} customers, journeylib vs lifetimes {lt_ver}", "",
             f"Measured {when}; {mach}. Input: `bench_loyalty.make_log` purchase-only log, {n_events:,} events, "
             f"{len(summ):,} customers, {distinct:,} distinct (frequency, recency, T) rows; `customer_summary` "
             f"(weeks) took {t_sum:.2f} s. Fit times: best of {args.rounds} interleaved rounds.", "",
             "| step | wall (s) | ratio to bare scan | ratio to bare window | lifetimes (s) | journeylib faster by |"
             " max relative parameter difference |",
             "|---|---:|---:|---:|---:|---:|---:|",
             f"| floor: bare scan + group by customer | {fl['scan']:.2f} | 1.00x | "
             f"{fl['scan'] / fl['window']:.2f}x | | | |",
             f"| floor: bare LAG window per customer | {fl['window']:.2f} | {fl['window'] / fl['scan']:.2f}x | "
             "1.00x | | | |"]
    for name, _, _ in cases:
        ours, theirs = best[name].get("journeylib", float("nan")), best[name].get("lifetimes", float("nan"))
        po, pt = params[name].get("journeylib"), params[name].get("lifetimes")
        if isinstance(po, dict) and isinstance(pt, dict):
            # by position: lifetimes calls Gamma-Gamma's gamma "v"
            rel = max(abs(a / b - 1) for a, b in zip(po.values(), pt.values()))
            diff, speed = f"{rel:.1e}", f"**{theirs / ours:.1f}x**"
        else:
            diff, speed = (pt or "n/a"), "n/a"
        lt = f"{theirs:.2f}" if theirs == theirs and theirs != float("inf") else str(pt or "n/a")
        lines.append(f"| {name} fit | {ours:.2f} | {ours / fl['scan']:.2f}x | {ours / fl['window']:.2f}x | {lt} | "
                     f"{speed} | {diff} |")
    ratios = [f"{name} {best[name]['lifetimes'] / best[name]['journeylib']:.1f}x" for name, _, _ in cases
              if isinstance(params[name].get("lifetimes"), dict)]
    if ratios:
        lines += ["", f"- Ratio lifetimes / journeylib on the same summary (journeylib faster by): {', '.join(ratios)} "
                  "(target: at least 5x, same parameters to 1e-6)."]
    lines += ["", "Parameters (journeylib; lifetimes alongside):", ""]
    for name, _, _ in cases:
        fmt = lambda d: ", ".join(f"{k}={v:.6g}" for k, v in d.items()) if isinstance(d, dict) else str(d)  # noqa
        lines.append(f"- {name}: {fmt(params[name].get('journeylib'))}; lifetimes: "
                     f"{fmt(params[name].get('lifetimes', 'not run'))}")
    lines += ["", f"Reproduce: `PYTHONPATH=/tmp/lt .venv/bin/python bench/bench_clv_fit.py --customers "
              f"{args.customers} --rounds {args.rounds}`.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
