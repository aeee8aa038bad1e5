"""Command line: ``journeylib init | check | run | run-all | runs | simulate``."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..core.draft import FORMATS
from ..core.locations import NOTEBOOKS_DIR, REPORTS_DIR, SAMPLE_DIR


def main(argv: list[str] | None = None) -> int:
    """The ``journeylib`` command: ``init``, ``check``, ``run``, ``run-all``, ``runs``, ``simulate``.

    The console script ``journeylib`` calls it with the shell's arguments; ``journeylib
    <command> --help`` lists each command's options. An error the kit raises on purpose (a bad
    parameter, data that does not fit) or a file-system error prints one line on stderr
    (``journeylib: ...``), no traceback, and returns 2 before anything runs; ``--help`` and
    unknown options exit through argparse (``SystemExit``).

    Parameters
    ----------
    argv
        The arguments after ``journeylib`` (default: the command line's, ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 done; 1 a notebook did not run to its end (``run``, ``run-all``) or a
        check failed (``check``); 2 an error in the parameters, the data or the file system.

    Examples
    --------
    Your own data (here the bundled sample's events stand in for an export): ``init`` writes a
    draft journey definition to edit, ``check`` prints what the definition finds in the data;
    ``runs`` lists the past runs of an output folder.

    >>> import shutil, tempfile
    >>> from journeylib.report.cli import main
    >>> folder = tempfile.mkdtemp()
    >>> main(["init", "data/sample/events.parquet", "--out", f"{folder}/journey.yml"])
    data/sample/events.parquet: canonical export, ... events of ... customers
    ...
    wrote .../journey.yml: edit the stage rules, then `journeylib check .../journey.yml`
    0
    >>> main(["check", f"{folder}/journey.yml"])
    item events customers detail
    awareness ...
    ...
    no check failed
    0
    >>> main(["runs", "--output-dir", folder])
    no runs in ...
    0
    >>> main(["run", "no_such_notebook.ipynb"])  # stderr: "journeylib: notebook not found: ..."
    2
    >>> shutil.rmtree(folder)
    """
    parser = argparse.ArgumentParser(prog="journeylib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a synthetic journey dataset with its ground truth")
    sim.add_argument("--customers", type=int, default=5000)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--out", type=Path, default=SAMPLE_DIR)
    sim.add_argument("--partitioned", action="store_true",
                     help="simulate in chunks and write Parquet partitioned by month (for large sizes)")
    sim.add_argument("--force", action="store_true",
                     help="replace data files already in --out (refused by default)")
    sim.add_argument("--channel-holdout", default=None, metavar="CHANNEL",
                     help="hold this channel's touches after the first touch out of a share of the customers "
                          "(experiment CHANNEL_holdout, randomised at acquisition); off by default")
    sim.add_argument("--channel-holdout-share", type=float, default=0.5, metavar="SHARE",
                     help="share of customers in the holdout arm of --channel-holdout (default 0.5)")

    init = sub.add_parser("init", help="profile an export and write a draft journey.yml to edit")
    init.add_argument("path", help="events file, folder (events/customers/assignments files) or glob")
    init.add_argument("--format", choices=FORMATS, default="auto",
                      help="shape of the export (default: detected from the columns)")
    init.add_argument("--out", type=Path, default=None,
                      help="draft to write (default: journey.yml beside the data); never overwritten")

    chk = sub.add_parser("check", help="load a journey definition against its data and print the check table")
    chk.add_argument("journey", help="journey definition file (journey.yml)")

    journey_help = "journey definition file (journey.yml): sets the journey parameter"
    retries_help = ("run a notebook again, up to N more times, when it failed for a transient reason (kernel "
                    "died, engine connection lost, timeout); never after a data or parameter error (default 0)")
    run = sub.add_parser("run", help="execute one notebook and render it to HTML")
    run.add_argument("notebook", type=Path)
    run.add_argument("--journey", help=journey_help)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-f", "--parameters-file", type=Path)
    run.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    run.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell (more than 0)")
    run.add_argument("--retries", type=int, default=0, metavar="N", help=retries_help)
    grp = run.add_mutually_exclusive_group()
    grp.add_argument("--no-input", dest="no_input", action="store_true", default=True,
                     help="hide code cells in the HTML (default)")
    grp.add_argument("--with-input", dest="no_input", action="store_false", help="show code cells")

    ra = sub.add_parser("run-all", help="run every notebook, continue past failures, write index.html")
    ra.add_argument("--journey", help=journey_help + " of every notebook")
    ra.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="applied to every notebook that declares NAME")
    ra.add_argument("--notebooks-dir", type=Path, default=NOTEBOOKS_DIR)
    ra.add_argument("--params-dir", type=Path, help="folder of <notebook-name>.yaml parameter files")
    ra.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    ra.add_argument("--jobs", type=int, default=2,
                    help="notebooks run in parallel (at least 1; capped at the number of cores)")
    ra.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell (more than 0)")
    ra.add_argument("--with-input", dest="no_input", action="store_false", default=True)
    ra.add_argument("--retries", type=int, default=0, metavar="N", help=retries_help)
    ra.add_argument("--on-failure", metavar="CMD",
                    help="command run when a notebook did not run to its end, with the run record's path "
                         "(run.json) as its last argument (split like a shell line, run without a shell)")
    ra.add_argument("--on-success", metavar="CMD",
                    help="command run when every notebook ran to its end, with the run record's path as its "
                         "last argument")
    ra.add_argument("--keep", metavar="N|Nd",
                    help="after a successful run, remove older run folders: keep the N newest (e.g. 10) or "
                         "those of the last N days (e.g. 30d); the latest successful run is always kept")

    rs = sub.add_parser("runs", help="list past runs: status, notebooks, time, tries, headline changes")
    rs.add_argument("--output-dir", type=Path, default=REPORTS_DIR)
    rs.add_argument("--limit", type=int, default=None, metavar="N", help="show only the N newest runs")

    args = parser.parse_args(argv)
    from ..core.errors import JourneyDataWarning

    with warnings.catch_warnings():  # the kit's warnings as one line each, not Python's file:line form
        warnings.simplefilter("default", JourneyDataWarning)
        warnings.showwarning = _warning_line
        return _run(args)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    from ..core.errors import JourneyDataWarning

    if issubclass(category, JourneyDataWarning):
        print(f"journeylib: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _run(args: argparse.Namespace) -> int:
    """The command of parsed ``args``; the kit's errors as one line on stderr (exit code 2)."""
    from ..core.errors import JourneyError, JourneyParameterError

    try:
        if args.command == "simulate":
            from ..simulate.journeys import refuse_overwrite, simulate_journeys, simulate_to_parquet

            refuse_overwrite(args.out, args.force)  # before simulating, not after
            holdout = {"channel_holdout": args.channel_holdout, "channel_holdout_share": args.channel_holdout_share}
            if args.partitioned:
                folder = simulate_to_parquet(args.out, args.customers, seed=args.seed, overwrite=args.force, **holdout)
                print(f"wrote {folder}")
                return 0
            data = simulate_journeys(args.customers, seed=args.seed, **holdout)
            folder = data.write(args.out, overwrite=args.force)
            print(f"wrote {len(data.events):,} events of {args.customers:,} customers to {folder}")
            return 0
        if args.command == "init":
            return _init(args)
        if args.command == "check":
            return _check(args.journey)
        from . import runner

        if args.command == "runs":
            print(runner.runs_text(args.output_dir, args.limit))
            return 0
        # one-line errors before anything runs (exit code 2)
        runner.check_retries(args.retries)
        runner.check_timeout(args.timeout)
        runner.check_output_dir(args.output_dir)
        if args.command == "run-all":
            runner.check_jobs(args.jobs)
            if args.keep is not None:
                runner.parse_keep(args.keep)
            for option, command in (("--on-failure", args.on_failure), ("--on-success", args.on_success)):
                if command is not None:
                    runner.check_command(command, option)
        if args.command == "run":
            pairs = list(args.parameter)
            if args.journey is not None:
                if any(name == runner.JOURNEY_PARAMETER for name, _ in pairs):
                    raise JourneyParameterError("give the journey once: --journey FILE or -p journey FILE, not both")
                pairs.append((runner.JOURNEY_PARAMETER, args.journey))
            params = runner.parse_cli_parameters(args.notebook, pairs, args.parameters_file)
            with runner.cancel_on_signals():  # SIGTERM/Ctrl-C: stop the kernel, mark the report cancelled
                result = runner.run_notebook(args.notebook, params, args.output_dir,
                                             no_input=args.no_input, timeout=args.timeout, retries=args.retries)
            print(result.describe())
            return 0 if result.ok else 1
        with runner.cancel_on_signals():
            results = runner.run_all(args.notebooks_dir, args.output_dir, params_dir=args.params_dir,
                                     parameters=_pairs_to_text(args.parameter), journey=args.journey,
                                     jobs=args.jobs, no_input=args.no_input, timeout=args.timeout,
                                     retries=args.retries, on_failure=args.on_failure,
                                     on_success=args.on_success, keep=args.keep)
        return 0 if all(r.ok for r in results) else 1
    except JourneyError as exc:
        print(f"journeylib: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a file that vanished: one line, no traceback
        print(f"journeylib: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2


def _pairs_to_text(pairs: list[list[str]]) -> dict[str, str]:
    """``-p`` pairs as ``{name: text}``; a name given twice is an error (which value would win?)."""
    from ..core.errors import JourneyParameterError

    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise JourneyParameterError(f"parameter '{name}' given twice (-p {name} {out[name]!r} and {value!r})")
        out[name] = value
    return out


def _init(args) -> int:
    from ..core import draft

    written = draft.write_draft(args.path, out=args.out, format=args.format)
    print(written.profile.describe())
    print(f"\nwrote {written.path}: edit the stage rules, then `journeylib check {written.path}`")
    return 0


def _check(path: str) -> int:
    """Print the journey's check table and findings; 1 when a check failed."""
    import pandas as pd

    from ..core.journey import load_journey

    journey = load_journey(path, strict=False)  # rules that match nothing become fail checks, not an error
    with pd.option_context("display.max_rows", 200, "display.max_columns", 20, "display.width", 160,
                           "display.max_colwidth", 80):
        print(journey.summary.to_string(index=False))
    for finding in journey.findings:
        print(f"- {finding.text}")
    failed = [c for c in journey.checks if c.status == "fail"]
    for c in journey.checks:
        if c.status != "pass":
            print(f"{c.status.upper()}: {c.name}" + (f" — {c.detail}" if c.detail else ""))
    print(f"{len(failed)} check(s) failed" if failed else "no check failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
