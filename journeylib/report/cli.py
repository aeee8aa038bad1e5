"""Command line: ``journeylib run | run-all | simulate``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.locations import NOTEBOOKS_DIR, REPORTS_DIR, SAMPLE_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="journeylib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a synthetic journey dataset with its ground truth")
    sim.add_argument("--customers", type=int, default=5000)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--out", type=Path, default=SAMPLE_DIR)
    sim.add_argument("--partitioned", action="store_true",
                     help="simulate in chunks and write Parquet partitioned by month (for large sizes)")

    run = sub.add_parser("run", help="execute one notebook and render it to HTML")
    run.add_argument("notebook", type=Path)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-f", "--parameters-file", type=Path)
    run.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    run.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell")
    grp = run.add_mutually_exclusive_group()
    grp.add_argument("--no-input", dest="no_input", action="store_true", default=True,
                     help="hide code cells in the HTML (default)")
    grp.add_argument("--with-input", dest="no_input", action="store_false", help="show code cells")

    ra = sub.add_parser("run-all", help="run every notebook, continue past failures, write index.html")
    ra.add_argument("--notebooks-dir", type=Path, default=NOTEBOOKS_DIR)
    ra.add_argument("--params-dir", type=Path, help="folder of <notebook-name>.yaml parameter files")
    ra.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    ra.add_argument("--jobs", type=int, default=2, help="notebooks run in parallel")
    ra.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell")
    ra.add_argument("--with-input", dest="no_input", action="store_false", default=True)

    args = parser.parse_args(argv)
    from . import runner
    from ..core.errors import JourneyError

    try:
        if args.command == "simulate":
            from ..simulate.journeys import simulate_journeys, simulate_to_parquet

            if args.partitioned:
                print(f"wrote {simulate_to_parquet(args.out, args.customers, seed=args.seed)}")
                return 0
            data = simulate_journeys(args.customers, seed=args.seed)
            folder = data.write(args.out)
            print(f"wrote {len(data.events):,} events of {args.customers:,} customers to {folder}")
            return 0
        if args.command == "run":
            params = runner.parse_cli_parameters(args.notebook, args.parameter, args.parameters_file)
            result = runner.run_notebook(args.notebook, params, args.output_dir,
                                         no_input=args.no_input, timeout=args.timeout)
            print(result.describe())
            return 0 if result.ok else 1
        results = runner.run_all(args.notebooks_dir, args.output_dir, params_dir=args.params_dir,
                                 jobs=args.jobs, no_input=args.no_input, timeout=args.timeout)
        return 0 if all(r.ok for r in results) else 1
    except JourneyError as exc:
        print(f"journeylib: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
