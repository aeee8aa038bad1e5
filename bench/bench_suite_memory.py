"""Benchmark: a report suite's time and what holds each notebook's peak memory.

    .venv/bin/python bench/bench_suite_memory.py --journey data/sample/journey.yml --out suite_memory.md
    .venv/bin/python bench/bench_suite_memory.py --journey /big/events_1e8/journey.yml \\
        --params-dir p8/ --memory-limit 4GB --jobs 2 --out suite_memory_1e8.md

Runs ``journeylib run-all`` once with an IPython start-up file that makes every kernel
sample itself every half second: its resident memory, DuckDB's buffers (``duckdb_memory()``),
glibc's heap (``mallinfo2``: in use and free), Arrow's pool, the pandas frames in the
notebook's namespace (without the strings they point to) and the number of Python objects
(``sys.getallocatedblocks``). Each notebook is told from its samples by the cells it ran. The
output gives each notebook's time, its largest cells (papermill's durations) and the memory at
its highest sample. "The rest" is what none of the counts covers: DuckDB's memory outside its
buffer manager, Python's small-object arenas and the libraries' code. The sampler's DuckDB
query costs a little time; time a suite without it (``journeylib run-all`` alone) when time is
the point.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
G = 1e9

SAMPLER = r'''
import ctypes, json, os, sys, threading, time


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        return libc.mallinfo2
    except (OSError, AttributeError):  # not glibc 2.33+
        return None


def _frames(ns):
    pd = sys.modules.get("pandas")
    if pd is None:
        return 0
    seen, total = set(), 0
    for v in list(ns.values()):
        inner = list(vars(v).values()) if hasattr(v, "__dict__") and not isinstance(v, type) else []
        for x in [v] + inner:
            if isinstance(x, pd.DataFrame) and id(x) not in seen:
                seen.add(id(x))
                total += int(x.memory_usage(index=True, deep=False).sum())
    return total


def _sample(ip, out, state, mallinfo):
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    mi = mallinfo() if mallinfo else None
    pa = sys.modules.get("pyarrow")
    duck = None
    eng = sys.modules.get("journeylib.core.engine")
    con = getattr(eng, "_DEFAULT", None) if eng is not None else None
    if con is not None and getattr(con, "name", "") == "duckdb":
        if state.get("for") is not con:
            state["cur"], state["for"] = con.con.cursor(), con
        duck = state["cur"].execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchone()[0]
    cells = ip.user_ns.get("In", [])
    out.write(json.dumps({
        "t": time.time(), "rss": rss, "duck": int(duck or 0), "arrow": pa.total_allocated_bytes() if pa else 0,
        "glibc_used": mi.uordblks + mi.hblkhd if mi else 0, "glibc_free": mi.fordblks if mi else 0,
        "frames": _frames(ip.user_ns), "objects": sys.getallocatedblocks(),
        "cell": (cells[-1] if cells else "")[:300]}) + "\n")


def _run(folder):
    ip = get_ipython()  # noqa: F821 - IPython's start-up namespace
    mallinfo, state = _glibc(), {}
    with open(os.path.join(folder, f"{os.getpid()}.jsonl"), "a", buffering=1) as out:
        while True:
            time.sleep(0.5)
            try:
                _sample(ip, out, state, mallinfo)
            except Exception as exc:  # noqa: BLE001 - a sample lost is not a run lost
                out.write(json.dumps({"t": time.time(), "error": repr(exc)[:200]}) + "\n")


threading.Thread(target=_run, args=(os.environ["JOURNEYLIB_BENCH_TRACE"],), daemon=True).start()
'''


def run_suite(journey: str, params_dir: str | None, jobs: int, memory_limit: str | None,
              notebooks: Path, work: Path) -> tuple[float, Path, Path]:
    """Run the suite with every kernel sampling itself; return wall seconds, the run folder, the traces."""
    ipy, traces, out = work / "ipython", work / "traces", work / "reports"
    (ipy / "profile_default" / "startup").mkdir(parents=True)
    traces.mkdir()
    (ipy / "profile_default" / "startup" / "00-sample-memory.py").write_text(SAMPLER)
    env = os.environ | {"IPYTHONDIR": str(ipy), "JOURNEYLIB_BENCH_TRACE": str(traces),
                        "JOURNEYLIB_CACHE_DIR": str(work / "cache")}
    if memory_limit:
        env["JOURNEYLIB_DUCKDB_MEMORY_LIMIT"] = memory_limit
    cmd = [str(Path(sys.executable).parent / "journeylib"), "run-all", "--journey", journey, "--notebooks-dir",
           str(notebooks), "--output-dir", str(out), "--jobs", str(jobs)]
    if params_dir:
        cmd += ["--params-dir", params_dir]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    wall = time.perf_counter() - t
    run = next(p for p in sorted(out.iterdir()) if p.is_dir() and not p.is_symlink())
    return wall, run, traces


def _label(source: str) -> str:
    """A cell in a few words: its report section, or the set-up, or its first line."""
    if "setup_notebook(" in source:
        return "set-up (imports, connection, loading)"
    lines = source.strip().splitlines() or [""]
    line = next((ln for ln in lines if "jl.section(" in ln), lines[0]).strip()
    title = re.search(r'jl\.section\((["\'])(.*?)\1', line)
    return title.group(2) if title else line[:60]


def notebook_times(run: Path, top: int = 3) -> dict[str, tuple[float, list[tuple[float, str]]]]:
    """Each executed notebook's time and its ``top`` largest cells (papermill's durations)."""
    out = {}
    for p in sorted(run.glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        cells = []
        for c in nb.cells:
            d = c.get("metadata", {}).get("papermill", {}).get("duration")
            if c.cell_type == "code" and d is not None:
                cells.append((d, _label(c.source)))
        out[p.stem] = (float(nb.metadata.get("papermill", {}).get("duration") or 0), sorted(cells, reverse=True)[:top])
    return out


def peaks(traces: Path, notebooks: Path) -> dict[str, dict]:
    """Each notebook's highest sample, the notebook told by the cells its kernel ran."""
    sources = {p.stem: {c.source[:300] for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"}
               for p in sorted(notebooks.glob("*.ipynb"))}
    out = {}
    for f in glob.glob(str(traces / "*.jsonl")):
        s = [x for x in map(json.loads, Path(f).read_text().splitlines()) if "rss" in x]
        votes = {name: sum(x["cell"] in cells for x in s) for name, cells in sources.items()}
        if not s or not any(votes.values()):
            continue
        name = max(votes, key=votes.get)
        pk = max(s, key=lambda x: x["rss"])
        if name not in out or pk["rss"] > out[name]["rss"]:
            out[name] = pk | {"duck_max": max(x["duck"] for x in s)}
    return out


def report(wall: float, times: dict, mem: dict, args: argparse.Namespace) -> str:
    lines = [f"Generated by `python bench/bench_suite_memory.py --journey {args.journey}"
             + (f" --params-dir {args.params_dir}" if args.params_dir else "")
             + (f" --memory-limit {args.memory_limit}" if args.memory_limit else "") + f" --jobs {args.jobs}`"
             f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", "",
             f"{len(times)} notebooks in {wall:.0f} s wall, {sum(t for t, _ in times.values()):.0f} s of notebook time.",
             "", "| notebook | s | largest cells (s) |", "|---|---:|---|"]
    for name, (t, cells) in times.items():
        lines.append(f"| {name} | {t:.0f} | " + "; ".join(f"{c} {d:.1f}" if d < 10 else f"{c} {d:.0f}" for d, c in cells) + " |")
    lines += ["", "GB at each notebook's highest sample (objects: Python's, in millions):", "",
              "| notebook | peak | DuckDB buffers | glibc in use | glibc free | Arrow | the rest | frames | objects "
              "| DuckDB's highest | cell at the peak |", "|---|" + "---:|" * 9 + "---|"]
    for name, x in sorted(mem.items()):
        rest = x["rss"] - x["duck"] - x["glibc_used"] - x["glibc_free"] - x["arrow"]
        where = _label(x["cell"])
        lines.append(f"| {name} | " + " | ".join(f"{v / G:.2f}" for v in (
            x["rss"], x["duck"], x["glibc_used"], x["glibc_free"], x["arrow"], rest, x["frames"]))
            + f" | {x['objects'] / 1e6:.1f} | {x['duck_max'] / G:.2f} | {where} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--journey", required=True, help="journey definition file (journey.yml)")
    ap.add_argument("--params-dir", help="folder of <notebook-name>.yaml parameter files")
    ap.add_argument("--notebooks-dir", type=Path, default=ROOT / "notebooks")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--memory-limit", help="DuckDB's memory limit (JOURNEYLIB_DUCKDB_MEMORY_LIMIT), e.g. 4GB")
    ap.add_argument("--out", type=Path, help="write the Markdown here as well")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="journeylib-suite-memory-") as tmp:
        wall, run, traces = run_suite(args.journey, args.params_dir, args.jobs, args.memory_limit,
                                      args.notebooks_dir, Path(tmp))
        text = report(wall, notebook_times(run), peaks(traces, args.notebooks_dir), args)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
