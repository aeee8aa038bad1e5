"""The benchmark suite: every analysis against a bare DuckDB scan of the same files.

    python -m bench                          # 10^5, 10^6, 10^7 events
    python -m bench --sizes 1e5 1e6          # a quicker run
    python -m bench --with-1e8               # adds 10^8 events (about 9 M customers; long)
    python -m bench --memory-limit 4GB --threads 2

For each size the simulator writes a month-partitioned Parquet dataset into
``bench/data/`` (git-ignored; ``simulate_to_parquet``, about 11.4 events per customer,
kept for the next run). Every analysis then runs in a fresh subprocess
(``python -m bench._analysis``), so the wall time and the peak resident memory (the
child's VmHWM) belong to that analysis alone. The table in ``bench/RESULTS.md`` gives
events, wall seconds, peak RSS, events per second and the ratio to the bare scan
(``SELECT customer_id, count(*), max(ts) FROM read_parquet(...) GROUP BY 1``) run in
the same round (``--repeat`` rounds of every analysis once), plus
links to the per-topic peer comparisons (``bench/RESULTS_<topic>.md``). An analysis
whose module is missing or fails is reported as ``n/a``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVENTS_PER_CUSTOMER = 11.4

sys.path.insert(0, str(ROOT))
from bench._analysis import ANALYSES  # noqa: E402

PEERS = {
    "attribution": "ChannelAttribution (Markov)",
    "survival": "lifelines (row-level Kaplan-Meier)",
    "loyalty": "lifetimes (BG/NBD)",
    "clv_fit": "lifetimes (BG/NBD, MBG/NBD, Gamma-Gamma fits on 1M customers)",
    "experiments": "A/B readout",
    "paths": "retentioneering (path building)",
    "spark": "the same analyses on PySpark local mode",
}


def size_label(n: int) -> str:
    exp = len(str(n)) - 1
    return f"1e{exp}" if n == 10 ** exp else f"{n:,}"


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 ** 2:.1f} GB"
    except OSError:
        pass
    import duckdb
    import ibis

    return {
        "CPU": cpu or "unknown", "cores": str(os.cpu_count()), "RAM": ram or "unknown",
        "OS": platform.platform(), "Python": platform.python_version(), "DuckDB": duckdb.__version__,
        "Ibis": ibis.__version__, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def count_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def ensure_data(data_dir: Path, n_events: int, seed: int) -> tuple[Path, dict]:
    """Month-partitioned Parquet with about ``n_events`` events (simulated once, then reused)."""
    folder = data_dir / f"events_{size_label(n_events)}"
    done = folder / "_BENCH_DONE.json"
    if done.exists():
        return folder, json.loads(done.read_text())
    customers = max(int(round(n_events / EVENTS_PER_CUSTOMER)), 100)
    print(f"simulating {customers:,} customers (~{n_events:,} events) into {folder} ...", flush=True)
    t = time.perf_counter()
    code = ("import sys; from journeylib.simulate.journeys import simulate_to_parquet; "
            f"simulate_to_parquet({str(folder)!r}, {customers}, seed={seed}, progress=False, overwrite=True)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    files = sorted((folder / "events").glob("*/*.parquet"))
    info = {"customers": customers, "events": count_rows(files), "files": len(files),
            "bytes": sum(f.stat().st_size for f in files), "simulate_s": round(time.perf_counter() - t, 1),
            "seed": seed}
    done.write_text(json.dumps(info))
    print(f"  {info['events']:,} events in {info['files']} files, {info['bytes'] / 1e6:.0f} MB "
          f"({info['simulate_s']} s)", flush=True)
    return folder, info


def run_child(name: str, folder: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "bench._analysis", name, str(folder)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    if args.temp_directory:
        cmd += ["--temp-directory", args.temp_directory]
    try:
        # validation cache off: load_validate must measure the full pass, not a reuse
        env = {**os.environ, "JOURNEYLIB_CACHE_DIR": ""}
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"name": name, "status": "n/a", "detail": f"timed out after {args.timeout} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"name": name, "status": "n/a", "detail": f"exit {p.returncode}: {tail}"}
    return json.loads(lines[-1])


def run_size(folder: Path, info: dict, args: argparse.Namespace) -> list[dict]:
    """Every analysis once per round, the bare scan first, ``args.repeat`` rounds.

    Each round's ratio divides an analysis by the bare scan of the same round, so a
    machine that gets busier or quieter during the run moves both sides of a ratio.
    """
    runs: dict[str, list[dict]] = {name: [] for name in args.analyses}
    for k in range(args.repeat):
        for name in args.analyses:
            r = run_child(name, folder, args)
            runs[name].append(r)
            shown = f"{r['wall_s']:.2f} s, {r['peak_rss_mb']:.0f} MB" if r.get("status") == "ok" else r["detail"]
            print(f"  round {k + 1}/{args.repeat}  {name:14s} {shown}", flush=True)
    bare = runs.get("bare_scan", [])
    window = runs.get("bare_window", [])
    rows = []
    for name in args.analyses:
        ok = [r for r in runs[name] if r.get("status") == "ok"]
        if not ok:
            rows.append({**runs[name][-1], "events": info["events"]})
            continue
        best = dict(sorted(ok, key=lambda r: r["wall_s"])[len(ok) // 2])  # median run
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
        best["runs"] = [round(r["wall_s"], 2) for r in ok]
        best["ratios"] = sorted(r["wall_s"] / b["wall_s"] for r, b in zip(runs[name], bare)
                                if r.get("status") == b.get("status") == "ok")
        best["window_ratios"] = sorted(r["wall_s"] / b["wall_s"] for r, b in zip(runs[name], window)
                                       if r.get("status") == b.get("status") == "ok")
        best["events"] = info["events"]
        rows.append(best)
    return rows


def _ratio(r: dict, key: str = "ratios") -> str:
    """Median of the per-round ratios, with their range when there are several rounds."""
    q = r.get(key) or []
    if not q:
        return "n/a"
    med = q[len(q) // 2] if len(q) % 2 else (q[len(q) // 2 - 1] + q[len(q) // 2]) / 2
    return f"{med:.1f}x" + (f" ({q[0]:.1f}-{q[-1]:.1f})" if len(q) > 1 else "")


def peer_lines() -> list[str]:
    out = []
    for f in sorted(HERE.glob("RESULTS_*.md")):
        topic = f.stem.split("_", 1)[1]
        if topic not in PEERS:  # e.g. RESULTS_1e8.md: a suite run, not a peer comparison
            continue
        text = f.read_text()
        keep = []
        for ln in text.splitlines():
            ln = ln.replace("**", "").strip().lstrip("*- ").strip()
            peer = re.search(r"(?i)channelattribution|lifetimes|lifelines|retentioneering", ln)
            if ln.startswith("|") or not re.search(r"(?i)\b(ratio|faster|slower)\b", ln):
                continue
            if peer or ln.lower().startswith("ratio"):
                keep.append(ln[:300])
        title = PEERS.get(topic, topic)
        out.append(f"- [{f.name}]({f.name}) ({title})" + (":" if keep else ""))
        out += [f"    - {k}" for k in keep[:4]]
    return out or ["- (no per-topic results yet)"]


def write_results(path: Path, machine: dict, results: dict, infos: dict, args: argparse.Namespace,
                  load: tuple[str, str]) -> None:
    lines = ["# Benchmark suite: every analysis against the bare scan", "",
             "Generated by `python -m bench " + " ".join(sys.argv[1:]) + "` (see `bench/__main__.py`).", "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine.items()]
    lines += [f"- DuckDB settings: threads={args.threads or 'default'}, memory_limit={args.memory_limit or 'default'}",
              f"- load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (the 2 cores are shared "
              "with other jobs: times are noisy and pessimistic)", "",
              "## Data", ""]
    for n, info in infos.items():
        lines.append(f"- {size_label(n)}: `simulate_to_parquet(customers={info['customers']:,}, seed={info['seed']})` "
                     f"-> {info['events']:,} events, {info['files']} Parquet files partitioned by month, "
                     f"{info['bytes'] / 1e6:.0f} MB")
    lines += ["", "## Results", "",
              "Each analysis ran in a fresh process; wall time covers the analysis call only (imports and the "
              "connection are set up before the clock starts; the analyses read the Parquet files directly, "
              "validation is the separate `load_validate` row); peak RSS is the child's high-water resident "
              "memory (VmHWM, including about 150-250 MB of Python, pandas, Ibis and DuckDB). "
              f"Runs per cell: {args.repeat}, in rounds (every analysis once per round, the bare scan first); "
              "wall time: the median run. Ratio: the median over rounds of the wall time divided by the same "
              "round's bare scan of the same files, with the lowest and highest round in brackets; the same against "
              "the bare LAG window. Both floors head every size: the bare scan-and-group (the floor of per-customer "
              "aggregates) and the bare LAG window per customer (the floor of order-dependent work).", "",
              "| analysis | events | wall (s) | peak RSS (MB) | events/s | ratio to bare scan | ratio to bare window "
              "| note |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for n, rows in results.items():
        for r in rows:
            label = ANALYSES[r["name"]][0]
            if r.get("status") != "ok":
                lines.append(f"| {label} | {r['events']:,} | n/a | n/a | n/a | n/a | n/a | {r.get('detail', '')} |")
                continue
            ratio = "1.0x" if r["name"] == "bare_scan" else _ratio(r)
            wratio = "1.0x" if r["name"] == "bare_window" else _ratio(r, "window_ratios")
            eps = r["events"] / r["wall_s"] if r["wall_s"] > 0 else float("nan")
            lines.append(f"| {label} | {r['events']:,} | {r['wall_s']:.2f} | {r['peak_rss_mb']:,.0f} | "
                         f"{eps:,.0f} | {ratio} | {wratio} | {r.get('detail', '')} |")
    lines += ["", "## Peers (measured by the per-topic scripts on their own inputs)", ""] + peer_lines()
    lines += ["", "Targets (issue 7): each analysis within 3x of the bare scan at 10^7 events; the whole suite on "
              "10^7 events in under 5 minutes and 4 GB. Read the ratio column against them; sizes not in the "
              "table were not run."]
    path.write_text("\n".join(lines) + "\n")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7], help="event counts (e.g. 1e5 1e6)")
    ap.add_argument("--with-1e8", action="store_true", help="also run 10^8 events (long; needs ~10 GB disk)")
    ap.add_argument("--analyses", nargs="+", default=list(ANALYSES), choices=list(ANALYSES))
    ap.add_argument("--repeat", type=int, default=3, help="rounds: each analysis once per round, the bare scan first")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 4GB")
    ap.add_argument("--temp-directory", default=None, help="where DuckDB spills (default: DuckDB's own)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per analysis run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    # both floors run first in every round and head every table
    args.analyses = ["bare_scan", "bare_window"] + [a for a in args.analyses if a not in ("bare_scan", "bare_window")]
    sizes = sorted({int(s) for s in args.sizes} | ({10 ** 8} if args.with_1e8 else set()))
    args.data.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    load_start = _loadavg()
    results, infos = {}, {}
    for n in sizes:
        folder, info = ensure_data(args.data, n, args.seed)
        infos[n] = info
        print(f"{size_label(n)}: {info['events']:,} events", flush=True)
        for f in folder.rglob("*.parquet"):  # warm the OS file cache: every child starts equal
            f.read_bytes()
        results[n] = run_size(folder, info, args)
        fl = {r["name"]: r for r in results[n] if r["name"] in ("bare_scan", "bare_window") and r.get("status") == "ok"}
        if len(fl) == 2:
            print(f"  floors at {size_label(n)}: bare scan-and-group {fl['bare_scan']['wall_s']:.2f} s, bare LAG window "
                  f"{fl['bare_window']['wall_s']:.2f} s ({_ratio(fl['bare_window'])} the scan)", flush=True)
        write_results(args.out, machine, results, infos, args, (load_start, _loadavg()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
