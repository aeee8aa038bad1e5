"""Run notebooks headlessly with papermill and render self-contained HTML reports.

* :func:`run_notebook` executes one notebook into an output folder (the source
  notebook is never run in place), then renders HTML with nbconvert in the same
  process. Every report opens with a health panel (run time, parameters, inputs
  with row counts and content hashes, library versions, checks raised by the
  analysis); a failed run still writes its notebook and HTML, with a banner naming
  the failing cell and error.
* :func:`run_all` is the scheduled-run entry point: every notebook, in parallel,
  continuing past failures, into a new timestamped folder with an ``index.html``;
  ``<output>/latest`` points at the newest run.

Parameters are checked against the notebook's ``parameters`` cell before a kernel
starts: unknown names are rejected, values must match the type of the default.
All files are written atomically (temporary file + rename).

Failures leak nothing: the banner, the index and the console quote a journeylib error as
the kernel raised it (ids already pseudonymised unless ``show_ids``) and any other error
as its type and first line only, never a traceback or a DataFrame dump (:func:`error_text`).
SIGTERM or SIGINT to the command line stops every worker and kernel, marks unfinished
reports "cancelled" in the index and removes temporary files (:func:`cancel_on_signals`).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import duckdb
import nbformat
import yaml
from traitlets.config import Config

from ..core.engine import memory_failure
from ..core.errors import JourneyParameterError
from ..core.health import ENV_VAR
from ..core.privacy import ENV_VAR as SHOW_IDS_VAR, scrub_text
from ..core.shared_results import ENV_VAR as SHARED_TABLES_VAR
from ..core.shared_tables import THREADS_VAR as SHARED_TABLES_THREADS_VAR
from . import html as html_pages
from .notebook import TABLES_ENV_VAR

_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict}


# --- parameters -----------------------------------------------------------------

def resolve_notebook(notebook: str | Path) -> Path:
    """The notebook file: a path, or the name of one of the kit's notebooks (``02_retention_survival``).

    Parameters
    ----------
    notebook
        A path to a ``.ipynb``, or a kit notebook's name with or without ``.ipynb``.

    Returns
    -------
    pathlib.Path
        The absolute path of the notebook.

    Raises
    ------
    JourneyParameterError
        When no such notebook exists.

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.runner import resolve_notebook
    >>> resolve_notebook("02_retention_survival").relative_to(Path.cwd()).as_posix()
    'notebooks/02_retention_survival.ipynb'
    """
    from ..core.locations import NOTEBOOKS_DIR

    path = Path(notebook)
    bare = path.parent == Path(".")  # a bare name may be the kit's; a path is taken as given
    for candidate in (path, *((NOTEBOOKS_DIR / path.name, NOTEBOOKS_DIR / f"{path.name}.ipynb") if bare else ())):
        if candidate.is_file() and candidate.suffix == ".ipynb":
            return candidate.resolve()
    names = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    raise JourneyParameterError(f"notebook not found: {notebook}; expected a .ipynb path or one of {names}")


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """Parameters declared in the notebook's ``parameters`` cell.

    Returns ``{name: {"default": value, "type": "int" | ..., "help": text}}``.

    Parameters
    ----------
    notebook
        A notebook path or a kit notebook's name.

    Returns
    -------
    dict
        ``{name: {"default", "type", "help"}}`` in the cell's order.

    Examples
    --------
    >>> from journeylib.report.runner import notebook_parameters
    >>> params = notebook_parameters("02_retention_survival")
    >>> list(params)[:3]
    ['journey', 'churn_after', 'start_event']
    >>> params["churn_after"]["type"]
    'int'
    """
    import ast

    import papermill as pm

    declared = pm.inspect_notebook(str(resolve_notebook(notebook)))
    out = {}
    for name, p in declared.items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = p["default"]
        typ = (p.get("inferred_type_name") or "").split("[")[0].strip() or type(default).__name__
        if typ == "None":
            typ = type(default).__name__
        out[name] = {"default": default, "type": typ, "help": p.get("help", "")}
    return out


def check_parameters(notebook: str | Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """Reject unknown names and values whose type does not match the default's.

    Parameters
    ----------
    notebook
        A notebook path or a kit notebook's name.
    params
        ``{name: value}`` overrides of the ``parameters`` cell.

    Returns
    -------
    dict
        ``params``, when valid.

    Raises
    ------
    JourneyParameterError
        Naming the unknown parameters (and listing the valid ones) or the mistyped value.

    Examples
    --------
    >>> from journeylib.report.runner import check_parameters
    >>> check_parameters("02_retention_survival", {"churn_after": 90})
    {'churn_after': 90}
    >>> check_parameters("02_retention_survival", {"churn_afer": 90})
    Traceback (most recent call last):
    ...
    journeylib.core.errors.JourneyParameterError: 02_retention_survival: unknown parameter(s) ['churn_afer']; valid parameters are: journey (str), churn_after (int), ...
    """
    declared = notebook_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        valid = ", ".join(f"{n} ({d['type']})" for n, d in declared.items())
        raise JourneyParameterError(
            f"{Path(notebook).name}: unknown parameter(s) {unknown}; valid parameters are: {valid}"
        )
    checked = {}
    for name, value in params.items():
        expected = _TYPES.get(declared[name]["type"])
        ok = expected is None or isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise JourneyParameterError(
                f"{Path(notebook).name}: parameter '{name}' must be {declared[name]['type']} "
                f"(default {declared[name]['default']!r}); got {type(value).__name__} {value!r}"
            )
        if name == ENGINE_PARAMETER and isinstance(value, str):
            from ..core.engine import engine_kind

            try:  # a typo would otherwise start a kernel that creates a stray DuckDB file
                engine_kind(value, strict=True)
            except JourneyParameterError as exc:
                raise JourneyParameterError(f"{Path(notebook).name}: {exc}") from None
        checked[name] = value
    return checked


ENGINE_PARAMETER = "engine"
"""The notebook parameter naming where the engine half runs (see :func:`journeylib.core.engine.connect`)."""
SHOW_IDS_PARAMETER = "show_ids"
"""The notebook parameter that shows raw ids (in tables and in error messages) when True."""
PATH_SUFFIXES = ("_dir", "_path", "_file")
"""A text parameter whose name ends so holds a path: relative paths are resolved before the kernel starts."""


def parse_cli_parameters(notebook: str | Path, pairs: list[tuple[str, str]] | None = None,
                         params_file: str | Path | None = None) -> dict[str, Any]:
    """Combine a YAML parameter file and ``-p NAME VALUE`` pairs (pairs win).

    Command-line values are text and are converted to the type of the parameter's
    default (``int``, ``float``, ``bool`` as true/false, lists/dicts as YAML).
    Text values are taken literally, never evaluated.

    Parameters
    ----------
    notebook
        A notebook path or a kit notebook's name.
    pairs
        ``(name, text value)`` pairs from ``-p NAME VALUE``.
    params_file
        A YAML file of ``name: value`` lines.

    Returns
    -------
    dict
        ``{name: typed value}``, checked with :func:`check_parameters`.

    Examples
    --------
    >>> from journeylib.report.runner import parse_cli_parameters
    >>> parse_cli_parameters("02_retention_survival", [("churn_after", "90"), ("horizons", "[30, 90]")])
    {'churn_after': 90, 'horizons': [30, 90]}
    """
    params: dict[str, Any] = {}
    if params_file:
        params.update(_with_journey(_read_yaml(params_file), Path(params_file).parent))
    declared = notebook_parameters(notebook)
    for name, raw in pairs or []:
        if name not in declared:
            check_parameters(notebook, {name: raw})  # raises with the list of valid names
        params[name] = _convert(name, raw, declared[name]["type"])
        params.update(_with_journey({name: params[name]}))  # relative to the current directory
    return check_parameters(notebook, params)


JOURNEY_PARAMETER = "journey"
"""The notebook parameter naming the journey definition file (``journey.yml``)."""
BUNDLED_JOURNEYS = ("sample", "cdnow")


def resolve_journey(value: str, base: str | Path | None = None) -> str:
    """A ``journey`` value as the kernel must see it.

    Notebooks run with their own folder as the working directory, so a relative path
    given on the command line (relative to the current directory) or in a parameter
    file (relative to that file's folder, ``base``) is made absolute here. Bundled
    names (``sample``, ``cdnow``) and URIs are passed on unchanged. A path that does
    not exist is rejected before any notebook starts.

    Parameters
    ----------
    value
        The ``journey`` parameter: a path, ``sample``/``cdnow`` or a URI.
    base
        Folder relative paths are read against (a parameter file's folder; default: the
        current directory).

    Returns
    -------
    str
        The absolute path, or the value unchanged.

    Raises
    ------
    JourneyParameterError
        When the path does not exist.

    Examples
    --------
    >>> from journeylib.report.runner import resolve_journey
    >>> resolve_journey("sample"), resolve_journey("s3://bucket/shop/journey.yml")
    ('sample', 's3://bucket/shop/journey.yml')
    >>> resolve_journey("data/sample/journey.yml").endswith("/data/sample/journey.yml")
    True
    """
    text = str(value)
    if text in BUNDLED_JOURNEYS or "://" in text:
        return text
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    path = path.resolve()
    if path.is_dir() and (path / "journey.yml").is_file():
        path = path / "journey.yml"
    if not path.is_file():
        raise JourneyParameterError(f"journey={text!r}: no such file; expected a journey definition file "
                                    f"(journey.yml, see `journeylib init`) or one of {list(BUNDLED_JOURNEYS)}")
    return str(path)


def resolve_path_parameter(name: str, value: Any, base: str | Path | None = None) -> Any:
    """A path-valued parameter as the kernel must see it (notebooks run in their own folder).

    ``journey`` goes through :func:`resolve_journey`; an ``engine`` that is a DuckDB file
    (``.duckdb``/``.db``) and a parameter named ``*_dir``/``*_path``/``*_file`` whose value is
    an existing relative path are made absolute against ``base`` (a parameter file's folder)
    or the current directory (the command line). Other values are returned unchanged.

    Parameters
    ----------
    name
        The parameter's name.
    value
        Its value.
    base
        Folder relative paths are read against (default: the current directory).

    Returns
    -------
    object
        The value, a path made absolute where it is one.

    Examples
    --------
    >>> from journeylib.report.runner import resolve_path_parameter
    >>> resolve_path_parameter("segment_by", "segment")
    'segment'
    >>> resolve_path_parameter("journey", "data/sample").endswith("/data/sample/journey.yml")
    True
    """
    if not isinstance(value, str) or not value or "://" in value:
        return value
    if name == JOURNEY_PARAMETER:
        return resolve_journey(value, base)
    path = Path(value).expanduser()
    if path.is_absolute():
        return value
    where = Path(base) if base is not None else Path.cwd()
    if name == ENGINE_PARAMETER:
        return str((where / path).resolve()) if path.suffix.lower() in (".duckdb", ".db") else value
    if name.endswith(PATH_SUFFIXES) and (where / path).exists():
        return str((where / path).resolve())
    return value


def _with_journey(params: dict[str, Any], base: str | Path | None = None) -> dict[str, Any]:
    """``params`` with every path-valued parameter resolved (see :func:`resolve_path_parameter`)."""
    return {name: resolve_path_parameter(name, value, base) for name, value in params.items()}


def parse_all_parameters(notebooks: list[str | Path], pairs: list[tuple[str, str]] | None = None,
                         journey: str | None = None) -> dict[Path, dict[str, Any]]:
    """``-p NAME VALUE`` pairs (and ``--journey``) for a batch: each applies to every notebook declaring NAME.

    Values are converted to each notebook's declared type as :func:`parse_cli_parameters`
    does. A name that no notebook declares is an error listing every notebook's
    parameters; so is ``journey`` when no notebook takes one. Returns
    ``{notebook path: parameters}`` (an empty dict for a notebook no pair applies to).

    Parameters
    ----------
    notebooks
        The notebooks of the batch.
    pairs
        ``(name, text value)`` pairs from ``-p NAME VALUE``.
    journey
        The ``--journey`` value (``None``: not given).

    Returns
    -------
    dict
        ``{notebook path: {name: typed value}}``.

    Raises
    ------
    JourneyParameterError
        When no notebook declares a name.

    Examples
    --------
    >>> from journeylib.report.runner import parse_all_parameters, resolve_notebook
    >>> books = [resolve_notebook("02_retention_survival"), resolve_notebook("03_ab_test")]
    >>> {path.name: params for path, params in parse_all_parameters(books, [("churn_after", "90")]).items()}
    {'02_retention_survival.ipynb': {'churn_after': 90}, '03_ab_test.ipynb': {}}
    """
    pairs = list(pairs or [])
    if journey is not None:
        if any(name == JOURNEY_PARAMETER for name, _ in pairs):
            raise JourneyParameterError("give the journey once: --journey FILE or -p journey FILE, not both")
        pairs.append((JOURNEY_PARAMETER, journey))
    declared = {Path(nb): notebook_parameters(nb) for nb in notebooks}
    out: dict[Path, dict[str, Any]] = {nb: {} for nb in declared}
    for name, raw in pairs:
        takers = [nb for nb, d in declared.items() if name in d]
        if not takers:
            listing = "; ".join(f"{nb.stem}: " + ", ".join(f"{n} ({p['type']})" for n, p in d.items())
                                for nb, d in declared.items())
            raise JourneyParameterError(f"parameter '{name}' is not a parameter of any notebook; "
                                        f"the notebooks' parameters are: {listing}")
        if name == JOURNEY_PARAMETER:
            raw = resolve_journey(raw)
        for nb in takers:
            try:
                out[nb][name] = resolve_path_parameter(name, _convert(name, raw, declared[nb][name]["type"]))
            except JourneyParameterError as exc:
                raise JourneyParameterError(f"{nb.name}: {exc}") from None
    return {nb: check_parameters(nb, params) for nb, params in out.items()}


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise JourneyParameterError(f"cannot read parameter file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise JourneyParameterError(f"parameter file {path} must hold a mapping of name: value")
    return data


def _convert(name: str, raw: str, typ: str) -> Any:
    try:
        if typ == "str":
            return raw
        if typ == "int":
            return int(raw)
        if typ == "float":
            return float(raw)
        if typ == "bool":
            low = raw.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        value = yaml.safe_load(raw)
        return value
    except (ValueError, yaml.YAMLError):
        raise JourneyParameterError(f"parameter '{name}' must be {typ}; got {raw!r}") from None


# --- running ----------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    """Outcome of one notebook run.

    ``ok`` means the notebook ran to its end. ``status`` says how well (see
    :func:`journeylib.report.html.report_status`): ``"ok"``, ``"ok, with warnings"``,
    ``"ok, with failed checks"``, ``"partial"`` (sections that could not be computed),
    ``"failed"`` or ``"cancelled"``; ``notes`` names the failed sections or checks.
    ``title`` is the report's title (the notebook's ``# `` heading), ``findings`` its
    headline findings and ``caption`` its data caption (see :mod:`journeylib.report.html`).
    ``tries`` counts the executions (more than 1 when ``retries`` re-ran it after a transient
    failure, see :func:`is_transient`); ``inputs`` are the tables it read (table, source, rows,
    sha256), ``failed_checks`` its checks that failed and ``journey`` the journey definition it
    used (``{"source", "sha256"}``, ``None`` without one): the run record (``run.json``) lists them.
    ``slowest`` is the step that took longest (``{"step", "seconds"}``, see :func:`slowest_step`).

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.runner import RunResult
    >>> done = RunResult("02_retention_survival", True, 41.5, Path("r.html"), Path("r.ipynb"))
    >>> broke = RunResult("03_ab_test", False, 3.2, Path("a.html"), Path("a.ipynb"),
    ...                   error="JourneyDataError: assignments: no 'variant' column")
    >>> done.status, broke.status
    ('ok', 'failed')
    >>> print(broke.describe())
    03_ab_test: FAILED in 3.2 s -> a.html
      JourneyDataError: assignments: no 'variant' column
    """

    notebook: str
    ok: bool
    seconds: float
    html: Path
    ipynb: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status: str = ""
    notes: tuple[str, ...] = ()
    title: str = ""
    findings: tuple[dict[str, Any], ...] = ()
    caption: dict[str, Any] | None = None
    tries: int = 1
    inputs: tuple[dict[str, Any], ...] = ()
    failed_checks: tuple[dict[str, Any], ...] = ()
    journey: dict[str, Any] | None = None
    slowest: dict[str, Any] | None = None

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status", "ok" if self.ok else "failed")

    def describe(self) -> str:
        tries = f" ({self.tries} tries)" if self.tries > 1 else ""
        text = f"{self.notebook}: {_status_word(self)} in {self.seconds:.1f} s{tries} -> {self.html}"
        return text + (f"\n  {self.error}" if self.error else "")


def _status_word(r: RunResult) -> str:
    """The status as the console shows it: upper case when not ok, with what failed."""
    word = r.status.upper() if r.status in ("failed", "cancelled", "partial") else r.status
    return word + (f" ({', '.join(r.notes)})" if r.notes and r.status != "ok, with warnings" else "")


JOURNEYLIB_ERRORS = ("JourneyError", "JourneyDataError", "JourneyParameterError", "JourneyFitError", "JourneyMemoryError")
MAX_FOREIGN_MESSAGE = 200


def error_text(ename: str, evalue: str, *, show_ids: bool = False) -> str:
    r"""``ename: evalue`` as a banner, the index and the console show it.

    A journeylib error is shown as raised (its message already pseudonymises ids and says
    what to do). Any other exception shows its type and the first line of its message,
    at most :data:`MAX_FOREIGN_MESSAGE` characters, with e-mail addresses pseudonymised
    (unless ``show_ids``): never a traceback, a DataFrame dump or a row of data.

    Parameters
    ----------
    ename
        The exception's type name.
    evalue
        Its message.
    show_ids
        Keep e-mail addresses in other errors' messages.

    Returns
    -------
    str
        ``"<ename>: <message>"``.

    Examples
    --------
    >>> from journeylib.report.runner import error_text
    >>> error_text("JourneyDataError", "events: no 'ts' column")
    "JourneyDataError: events: no 'ts' column"
    >>> error_text("ValueError", "bad value for ann@example.com\nrow 1: ...")  # doctest: +ELLIPSIS
    'ValueError: bad value for cust-...'
    >>> print(error_text("OutOfMemoryException", "Out of Memory Error: failed to allocate 2.0 MiB\n"))  # doctest: +ELLIPSIS
    JourneyMemoryError: the engine ran out of memory in this step (DuckDB: failed to allocate 2.0 MiB).
    What to do: give DuckDB more memory (JOURNEYLIB_DUCKDB_MEMORY_LIMIT, ...), run fewer notebooks at once ...
    """
    if ename in JOURNEYLIB_ERRORS:
        return f"{ename}: {evalue}".strip()
    if ename == "OutOfMemoryException":  # DuckDB's, from a query that is not a fetch: in words, with what to do
        return f"JourneyMemoryError: {memory_failure(duckdb.OutOfMemoryException(evalue))}"
    first = next((ln.strip() for ln in str(evalue).splitlines() if ln.strip()), "")
    if len(first) > MAX_FOREIGN_MESSAGE:
        first = first[:MAX_FOREIGN_MESSAGE].rstrip() + " ..."
    text = f"{ename}: {first}".strip().rstrip(":")
    return text if show_ids else scrub_text(text)


def _kernel_start_race(error: str) -> bool:
    return "kernel_info" in error or "Address already in use" in error


def run_notebook(notebook: str | Path, parameters: Mapping[str, Any] | None = None,
                 output_dir: str | Path = "reports", *, no_input: bool = True,
                 timeout: int | None = None, new_run_folder: bool = True, retries: int = 0) -> RunResult:
    """Execute ``notebook`` with papermill and write ``.ipynb`` + ``.html`` reports.

    With ``new_run_folder`` the folder also gets ``run.json`` (see :func:`run_record`) and
    ``index.html``; ``engine.log`` receives the engine's own output.

    Parameters
    ----------
    notebook
        Source notebook (never modified).
    parameters
        Overrides for the ``parameters`` cell; checked before a kernel starts.
    output_dir
        Report root. With ``new_run_folder`` a timestamped sub-folder is created
        and ``latest`` points to it; otherwise files go straight into ``output_dir``.
    no_input
        Hide code cells in the HTML (the default for shared reports).
    timeout
        Seconds allowed per cell (``None``: no limit).
    retries
        Run the notebook again, up to this many times, when it failed for a transient reason
        (see :func:`is_transient`); never after a data or parameter error.

    Returns
    -------
    RunResult
        The outcome: status, seconds, the HTML and notebook written, the error if any.

    Examples
    --------
    Runs a kernel for a minute or so, so it is not run here:

    >>> from journeylib.report.runner import run_notebook
    >>> result = run_notebook("02_retention_survival", {"churn_after": 90},
    ...                       output_dir="reports")  # doctest: +SKIP
    >>> result.status  # doctest: +SKIP
    'ok'
    """
    notebook = resolve_notebook(notebook)
    timeout, retries = check_timeout(timeout), check_retries(retries)
    check_output_dir(output_dir)
    params = check_parameters(notebook, _with_journey(dict(parameters or {})))
    started = _dt.datetime.now(_dt.timezone.utc)
    out = _new_run_folder(Path(output_dir)) if new_run_folder else Path(output_dir)
    _make_dir(out)
    batch = _Batch(Path(output_dir), out, [notebook], {}, tempfile.mkdtemp(prefix="jl-run-"), new_run_folder,
                   _previous_index(Path(output_dir)) if new_run_folder else {}, started,
                   {"jobs": 1, "timeout": timeout, "retries": retries, "no_input": no_input})
    _ACTIVE.append(batch)
    try:
        result = _execute(notebook, params, out, no_input, timeout, batch.scratch, retries)
        batch.results[notebook] = result
        if new_run_folder:
            _write_index(out, [result], batch.previous, started=started, options=batch.options)
            _point_latest(Path(output_dir), out)
    finally:
        _ACTIVE.remove(batch)
        shutil.rmtree(batch.scratch, ignore_errors=True)
    return result


def run_all(notebooks_dir: str | Path, output_dir: str | Path = "reports", *,
            params_dir: str | Path | None = None, parameters: Mapping[str, Any] | None = None,
            journey: str | None = None, jobs: int = 2, no_input: bool = True,
            timeout: int | None = None, retries: int = 0, on_failure: str | None = None,
            on_success: str | None = None, keep: str | int | None = None) -> list[RunResult]:
    """Run every notebook of ``notebooks_dir`` into one new timestamped folder.

    A failing notebook never stops the others. ``params_dir/<notebook stem>.yaml``
    supplies parameters for that notebook; ``parameters`` (``{name: value}``, values
    typed or command-line text) apply to every notebook that declares the name, over
    the files; ``journey`` sets every notebook's ``journey`` parameter (the definition
    file). Both are checked before any notebook starts. Notebooks start longest first, by their
    durations in the previous run under ``output_dir``; parallel notebooks share the
    cores (DuckDB threads = cores // jobs unless ``JOURNEYLIB_DUCKDB_THREADS`` is set).
    Prints one line per notebook and a summary; returns the results in notebook order.

    For scheduled runs: the run folder holds ``run.json`` (see :func:`run_record`; the index is
    rendered from it) and ``engine.log``. ``retries`` re-runs a notebook that failed for a
    transient reason (:func:`is_transient`). ``on_success`` / ``on_failure`` is a command run
    afterwards with the run record's path as its last argument (see :func:`notify`; failure:
    a notebook did not run to its end). ``keep`` (``N`` runs or ``"30d"``) removes older run
    folders after a successful run, never the latest successful one (:func:`prune_runs`).

    Parameters
    ----------
    notebooks_dir
        Folder of the notebooks to run (every ``*.ipynb`` in it).
    output_dir
        Report root; the run gets a new timestamped folder in it.
    params_dir
        Folder of ``<notebook stem>.yaml`` parameter files.
    parameters
        ``{name: value}`` for every notebook that declares the name.
    journey
        The journey definition every notebook's ``journey`` parameter gets.
    jobs
        Notebooks run in parallel.
    no_input
        Hide code cells in the HTML.
    timeout
        Seconds allowed per cell (``None``: no limit).
    retries
        Extra tries of a notebook that failed for a transient reason.
    on_failure, on_success
        Commands run afterwards with the run record's path as their last argument.
    keep
        Run folders kept afterwards: ``N`` runs or ``"Nd"`` days (``None``: all).

    Returns
    -------
    list of RunResult
        One per notebook, in notebook order.

    Examples
    --------
    Runs every notebook (minutes), so it is not run here:

    >>> from journeylib.report.runner import run_all
    >>> results = run_all("notebooks", "reports", journey="sample", jobs=2, keep="30d")  # doctest: +SKIP
    >>> [r.status for r in results]  # doctest: +SKIP
    ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']
    """
    notebooks = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not notebooks:
        raise JourneyParameterError(f"no notebooks found in {notebooks_dir}")
    jobs, timeout, retries = check_jobs(jobs), check_timeout(timeout), check_retries(retries)
    keep_rule = parse_keep(keep) if keep is not None else None
    for option, command in (("--on-failure", on_failure), ("--on-success", on_success)):
        if command is not None:
            check_command(command, option)
    check_output_dir(output_dir)
    if params_dir is not None:
        check_params_dir(params_dir, notebooks)
    common = (parse_all_parameters(notebooks, [(n, v if isinstance(v, str) else json.dumps(v))
                                               for n, v in (parameters or {}).items()], journey)
              if parameters or journey is not None else {})
    cores = os.cpu_count() or 1
    if jobs > cores:
        _say(f"note: --jobs {jobs} is more than the {cores} cores of this machine; running {cores} at a time")
        jobs = cores
    started = _dt.datetime.now(_dt.timezone.utc)
    out = _new_run_folder(Path(output_dir))
    _say(f"running {len(notebooks)} notebooks into {out} ({jobs} at a time)")
    plan = []
    for nb in notebooks:
        pfile = Path(params_dir) / f"{nb.stem}.yaml" if params_dir else None
        plan.append((nb, pfile if pfile is not None and pfile.exists() else None, common.get(nb, {})))
    batch = _Batch(Path(output_dir), out, [nb for nb, *_ in plan], {}, tempfile.mkdtemp(prefix="jl-run-"),
                   previous=_previous_index(Path(output_dir)), started=started,
                   options={"jobs": jobs, "timeout": timeout, "retries": retries, "no_input": no_input})
    results = batch.results
    # longest first (by the previous run's durations; new notebooks first), so the slowest
    # notebook does not start last and run alone while the other workers sit idle
    queue = _longest_first(plan, _previous_seconds(Path(output_dir)))
    _ACTIVE.append(batch)
    try:
        with _duckdb_threads(jobs), _shared_tables(batch.scratch), ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_worker_init) as pool:
            futures = {pool.submit(_run_one_safely, nb, pfile, out, no_input, timeout, extra, batch.scratch,
                                   retries): nb
                       for nb, pfile, extra in queue}
            for fut in as_completed(futures):
                res = fut.result()
                results[futures[fut]] = res
                tries = f", {res.tries} tries" if res.tries > 1 else ""
                _say(f"  {_status_word(res):6} {res.notebook} "
                     f"({res.seconds:.1f} s{tries})" + (f"\n         {res.error}" if res.error else ""))
    finally:
        _ACTIVE.remove(batch)
        shutil.rmtree(batch.scratch, ignore_errors=True)
    ordered = [results[nb] for nb, *_ in plan]
    _write_index(out, ordered, batch.previous, started=started, options=batch.options)
    _point_latest(Path(output_dir), out)
    n_failed = sum(not r.ok for r in ordered)
    _say(f"{len(ordered) - n_failed} of {len(ordered)} notebooks succeeded; index: {out / 'index.html'}")
    command = on_failure if n_failed else on_success
    if command is not None:
        notify(command, out / RUN_RECORD, "--on-failure" if n_failed else "--on-success")
    if keep_rule is not None and not n_failed:
        removed = prune_runs(Path(output_dir), keep_rule)
        if removed:
            _say(f"removed {len(removed)} older run folder(s) (--keep {keep}): {', '.join(p.name for p in removed)}")
    return ordered


def check_retries(retries: Any) -> int:
    """``retries`` as a whole number >= 0 (extra tries of a notebook that failed for a transient reason).

    Parameters
    ----------
    retries
        The option's value.

    Returns
    -------
    int
        The retries.

    Raises
    ------
    JourneyParameterError
        When it is not a whole number >= 0.

    Examples
    --------
    >>> from journeylib.report.runner import check_retries
    >>> check_retries(2)
    2
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise JourneyParameterError(f"--retries {retries!r}: expected a whole number of extra tries, at least 0 "
                                    "(0: a failed notebook is not run again)")
    return retries


def check_command(command: Any, option: str = "--on-failure") -> list[str]:
    """``command`` split as a shell would (``shlex.split``, never run through a shell), its program found.

    Parameters
    ----------
    command
        The command line (text).
    option
        The option that gave it (for the message).

    Returns
    -------
    list of str
        The program and its arguments.

    Raises
    ------
    JourneyParameterError
        When the command is empty, cannot be split or its program is not found.

    Examples
    --------
    >>> from journeylib.report.runner import check_command
    >>> check_command("true --flag 'two words'")
    ['true', '--flag', 'two words']
    """
    try:
        argv = shlex.split(command) if isinstance(command, str) else []
    except ValueError as exc:
        raise JourneyParameterError(f"{option} {command!r}: cannot be split into a command ({exc}); "
                                    "expected a program and its arguments, quoted as in a shell") from None
    if not argv:
        raise JourneyParameterError(f"{option} {command!r}: expected a program and its arguments "
                                    "(the run record's path is added as the last argument)")
    if shutil.which(argv[0]) is None:
        raise JourneyParameterError(f"{option}: program {argv[0]!r} not found or not executable; expected a "
                                    "program on PATH or a path to an executable file")
    return argv


NOTIFY_TIMEOUT_SECONDS = 300
"""A notification command still running after this long is stopped (a scheduled run must end)."""


def notify(command: str, record: str | Path, option: str = "--on-failure") -> int | None:
    """Run ``command`` with the run record's path as its last argument; its exit code.

    The command is split with ``shlex.split`` and run without a shell, so nothing in the
    path or in data can inject a command; the path is one argument of its own. A command
    that fails is reported on the console, it does not change the run's outcome.

    Parameters
    ----------
    command
        The command line (``--on-failure`` / ``--on-success``).
    record
        Path of the run record (``run.json``), appended as the last argument.
    option
        The option that gave the command (for messages).

    Returns
    -------
    int or None
        The command's exit code (``None`` when it could not be started).

    Examples
    --------
    >>> from journeylib.report.runner import notify
    >>> notify("true", "reports/2025-07-01T06-00-00Z/run.json")
    0
    """
    argv = [*check_command(command, option), str(record)]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=NOTIFY_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        _say(f"journeylib: {option} command stopped after {NOTIFY_TIMEOUT_SECONDS} s: {argv[0]}")
        return None
    except OSError as exc:
        _say(f"journeylib: {option} command could not run: {argv[0]}: {exc.strerror or exc}")
        return None
    if proc.returncode:
        _say(f"journeylib: {option} command exited with code {proc.returncode}: {argv[0]}")
    return proc.returncode


def check_jobs(jobs: Any) -> int:
    """``jobs`` as a whole number >= 1 (notebooks run in parallel).

    Parameters
    ----------
    jobs
        The option's value.

    Returns
    -------
    int
        The number of parallel notebooks.

    Raises
    ------
    JourneyParameterError
        When it is not a whole number >= 1.

    Examples
    --------
    >>> from journeylib.report.runner import check_jobs
    >>> check_jobs(2)
    2
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise JourneyParameterError(f"--jobs {jobs!r}: expected a whole number of notebooks to run at a time, "
                                    "at least 1")
    return jobs


def check_timeout(timeout: Any) -> int | None:
    """``timeout`` as seconds > 0 per cell, or ``None`` (no limit).

    Parameters
    ----------
    timeout
        Seconds per cell, or ``None``.

    Returns
    -------
    int or None
        The seconds, or ``None``.

    Raises
    ------
    JourneyParameterError
        When it is not a whole number > 0.

    Examples
    --------
    >>> from journeylib.report.runner import check_timeout
    >>> check_timeout(600), check_timeout(None)
    (600, None)
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise JourneyParameterError(f"--timeout {timeout!r}: expected seconds per cell, more than 0 "
                                    "(leave it out for no limit)")
    return timeout


def check_output_dir(path: str | Path) -> Path:
    """``path`` if it is a folder, or one that can be created; a one-line error otherwise.

    Nothing is created here: a run rejected for another reason leaves no empty folder.

    Parameters
    ----------
    path
        The report root.

    Returns
    -------
    pathlib.Path
        The path.

    Raises
    ------
    JourneyParameterError
        When it is a file, or a folder that cannot be created.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from journeylib.report.runner import check_output_dir
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = check_output_dir(Path(tmp) / "reports")
    ...     out.name, out.exists()
    ('reports', False)
    """
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise JourneyParameterError(f"output folder {path}: {probe} is a file, not a folder; expected a folder "
                                    "that exists or can be created")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise JourneyParameterError(f"output folder {path}: cannot write in {probe} (permission denied); "
                                    "expected a folder you can write to")
    return path


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JourneyParameterError(f"output folder {path}: cannot be created ({exc.strerror or exc})") from None


def check_params_dir(params_dir: str | Path, notebooks: list[Path]) -> None:
    r"""Every parameter file in ``params_dir`` is one run-all reads: ``<notebook name>.yaml``.

    A ``.yml`` file (beside a ``.yaml`` or alone) or a ``.yaml`` whose name matches no
    notebook (a misspelling) would be silently ignored: it is an error naming the files.

    Parameters
    ----------
    params_dir
        The parameter files' folder.
    notebooks
        The notebooks of the batch.

    Returns
    -------
    None

    Raises
    ------
    JourneyParameterError
        Naming the files run-all would ignore.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from journeylib.report.runner import check_params_dir, resolve_notebook
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "02_retention_survival.yaml").write_text("churn_after: 90\n")
    ...     check_params_dir(tmp, [resolve_notebook("02_retention_survival")])
    """
    folder = Path(params_dir)
    if not folder.is_dir():
        raise JourneyParameterError(f"params_dir={str(params_dir)!r}: no such folder; expected a folder of "
                                    "<notebook name>.yaml parameter files")
    stems = {nb.stem for nb in notebooks}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
    yml = [p.name for p in files if p.suffix.lower() == ".yml" or p.suffix != ".yaml"]
    stray = [p.name for p in files if p.suffix == ".yaml" and p.stem not in stems]
    problems = []
    if yml:
        problems.append(f"{', '.join(yml)} (run-all reads only <notebook name>.yaml: rename to .yaml, "
                        "keeping one file per notebook)")
    if stray:
        problems.append(f"{', '.join(stray)} (no notebook of that name)")
    if problems:
        raise JourneyParameterError(f"params_dir {folder}: parameter files that would not be read: "
                                    f"{'; '.join(problems)}; expected one of "
                                    f"{', '.join(sorted(s + '.yaml' for s in stems))}")


# --- stopping -----------------------------------------------------------------------

@dataclass
class _Batch:
    """A run in progress, for :func:`cancel_on_signals`: where it writes, what it runs, what finished."""

    root: Path
    out: Path
    notebooks: list[Path]
    results: dict[Path, RunResult]
    scratch: str
    indexed: bool = True
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: _dt.datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)


_ACTIVE: list[_Batch] = []
_OWNER: list[int] = []  # pid of the process whose handlers are installed
STOP_GRACE_SECONDS = 3.0


@contextlib.contextmanager
def cancel_on_signals():
    """While a run or batch runs: SIGTERM or SIGINT stops it cleanly, then exits with 128 + signal.

    Every process started below this one (batch workers and the kernels they started,
    each kernel with its own process group) gets SIGTERM, then SIGKILL after
    :data:`STOP_GRACE_SECONDS`; the index lists finished reports and marks the others
    "cancelled"; temporary files (atomic-write temporaries, partial notebooks, health
    files, kernel sockets and scratch folders) are removed. Only the main thread can
    install handlers; elsewhere this does nothing.

    Yields
    ------
    None
        Handlers are installed for the block and restored after it.

    Examples
    --------
    Used around a run by the command line (a signal ends the process, so it is not run here):

    >>> from journeylib.report.runner import cancel_on_signals, run_all
    >>> with cancel_on_signals():  # doctest: +SKIP
    ...     run_all("notebooks", "reports")
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    _OWNER.append(os.getpid())
    for sig in old:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _OWNER.pop()


def _on_signal(signum, frame) -> None:
    if not _OWNER or os.getpid() != _OWNER[-1]:  # a forked worker before its own handlers were set
        os._exit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)  # one stop at a time
    try:
        stop_descendants()
        for batch in list(_ACTIVE):
            _cancel_batch(batch)
        _say(f"journeylib: stopped by {signal.Signals(signum).name}; unfinished reports are marked cancelled")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)


def stop_descendants(grace: float = STOP_GRACE_SECONDS) -> list[int]:
    """Terminate every process below this one, then kill what is left after ``grace`` seconds.

    A kernel runs in a session of its own (jupyter_client starts it so), so it is not in
    this process's group and outlives its worker unless stopped here; its process group is
    signalled too (anything the kernel started). Returns the pids that were signalled.

    Parameters
    ----------
    grace
        Seconds between SIGTERM and SIGKILL.

    Returns
    -------
    list of int
        The signalled pids.

    Examples
    --------
    Stops every child process (not run here):

    >>> from journeylib.report.runner import stop_descendants
    >>> stop_descendants(grace=5)  # doctest: +SKIP
    []
    """
    import psutil

    me = psutil.Process()
    procs = me.children(recursive=True)  # snapshot first: killing a worker orphans its kernel
    own_group = os.getpgid(0)
    groups = set()
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            g = os.getpgid(p.pid)
            if g != own_group:
                groups.add(g)
    for g in groups:
        with contextlib.suppress(OSError):
            os.killpg(g, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGTERM)
    alive = _wait_gone(procs, grace)
    for g in groups:
        with contextlib.suppress(OSError):
            os.killpg(g, signal.SIGKILL)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    _wait_gone(alive, grace)
    return [p.pid for p in procs]


def _wait_gone(procs: list, timeout: float) -> list:
    """The processes of ``procs`` still running after up to ``timeout`` seconds (zombies count as
    gone: an orphaned kernel's exit status is for init to collect)."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            with contextlib.suppress(psutil.Error, ChildProcessError):
                p.wait(0)  # reaps our own children
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _cancel_batch(batch: _Batch) -> None:
    """Index the batch with unfinished reports as cancelled; remove its temporary files."""
    _remove_temporaries(batch.out, batch.root, batch.scratch)
    ordered = []
    for nb in batch.notebooks:
        res = batch.results.get(nb)
        if res is None:
            html_path = batch.out / f"{nb.stem}.html"
            _atomic_write(html_path, html_pages.page(nb.stem, html_pages.cancelled_banner(), ""))
            res = RunResult(nb.name, False, 0.0, html_path, batch.out / f"{nb.stem}.ipynb", {},
                            "cancelled before it finished", "cancelled")
        ordered.append(res)
    if batch.indexed:
        _write_index(batch.out, ordered, batch.previous, started=batch.started, options=batch.options)
        _point_latest(batch.root, batch.out)
    _remove_temporaries(batch.out, batch.root, batch.scratch)


TEMPORARY_PATTERNS = (".*.tmp", ".*-health-*.json", ".*.running.ipynb")


def _remove_temporaries(out: Path, root: Path, scratch: str | None) -> None:
    for pattern in TEMPORARY_PATTERNS:
        for p in Path(out).glob(pattern):
            with contextlib.suppress(OSError):
                p.unlink()
    for p in Path(root).glob(".latest-*"):
        with contextlib.suppress(OSError):
            p.unlink()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


def _previous_index(root: Path) -> dict[str, dict[str, Any]]:
    """The notebooks of the last run under ``root`` (its ``run.json``, else ``index.json``), by notebook
    (empty when there is none)."""
    record = read_run(root / "latest")
    return {e["notebook"]: e for e in (record or {}).get("notebooks", []) if isinstance(e, dict) and "notebook" in e}


def _previous_seconds(root: Path) -> dict[str, float]:
    """Duration per notebook in the last run under ``root`` (empty when there is none)."""
    try:
        return {r["notebook"]: float(r["seconds"]) for r in json.loads((root / "latest" / "index.json").read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


@contextlib.contextmanager
def _duckdb_threads(jobs: int):
    """Share the cores between parallel notebooks: DuckDB threads = cores // jobs.

    Each DuckDB defaults to every core, so two notebooks on 2 cores ran 4 threads; one
    each made the 10^7-event suite 13% faster (5:04 -> 4:26). The notebook that writes the
    run's shared tables gets every core while it does (the others wait for it: at 10^8 events
    on one thread the set-up took 214 s against 112 s on two). An explicit
    ``JOURNEYLIB_DUCKDB_THREADS`` is left alone.
    """
    key = "JOURNEYLIB_DUCKDB_THREADS"
    if jobs <= 1 or os.environ.get(key):
        yield
        return
    os.environ[key] = str(max(1, (os.cpu_count() or 1) // jobs))
    os.environ[SHARED_TABLES_THREADS_VAR] = str(os.cpu_count() or 1)
    try:
        yield
    finally:
        os.environ.pop(key, None)
        os.environ.pop(SHARED_TABLES_THREADS_VAR, None)


@contextlib.contextmanager
def _shared_tables(scratch: str):
    """The run's notebooks share one validated, staged copy of each journey's tables, kept in
    the run's scratch folder (removed with it); see :mod:`journeylib.core.shared_tables`.

    On 10^8 events every notebook otherwise spent minutes loading and profiling the same files
    before its first analysis."""
    old = os.environ.get(SHARED_TABLES_VAR)
    os.environ[SHARED_TABLES_VAR] = os.path.join(scratch, "tables")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(SHARED_TABLES_VAR, None)
        else:
            os.environ[SHARED_TABLES_VAR] = old


# Seconds per bundled notebook in the 10^8-event suite (bench/RESULTS.md, 2026-12-06): the order of
# a run into a folder without a previous run. In file order the two lanes of that suite ended 340 s
# apart (912 and 1,252 s), one core idle all that while.
TYPICAL_SECONDS = {"01_stage_attribution.ipynb": 480.0, "00_journey_overview.ipynb": 424.0,
                   "07_campaigns.ipynb": 339.0, "05_journey_map.ipynb": 318.0, "04_loyalty_cohorts.ipynb": 282.0,
                   "02_retention_survival.ipynb": 164.0, "06_channel_budget.ipynb": 102.0, "03_ab_test.ipynb": 40.0}


def _longest_first(plan: list, seconds: dict[str, float]) -> list:
    """Plan entries ``(notebook, ...)`` by previous duration, unknown ones first (stable); without a
    previous run, the bundled notebooks by :data:`TYPICAL_SECONDS`."""
    seconds = seconds or TYPICAL_SECONDS
    return sorted(plan, key=lambda p: -seconds.get(p[0].name, float("inf")))


def _run_one_safely(nb: Path, pfile: Path | None, out: Path, no_input: bool, timeout: int | None,
                    extra: Mapping[str, Any] | None = None, scratch: str | None = None,
                    retries: int = 0) -> RunResult:
    """Worker: any problem (even a bad parameter file) becomes a failed result.

    ``extra`` (the batch's ``-p``/``--journey`` values) wins over the parameter file."""
    start = time.time()
    try:
        params = _with_journey(_read_yaml(pfile), pfile.parent) if pfile else {}
        params = check_parameters(nb, {**params, **(extra or {})})
        return _execute(nb.resolve(), params, out, no_input, timeout, scratch, retries)
    except Exception as exc:  # noqa: BLE001 - one notebook must never stop the batch
        html_path = out / f"{nb.stem}.html"
        error = error_text(type(exc).__name__, str(exc))
        _atomic_write(html_path, html_pages.page(nb.stem, html_pages.banner(f"Could not start: {error}"), ""))
        return RunResult(nb.name, False, time.time() - start, html_path, out / f"{nb.stem}.ipynb", {}, error)


def _worker_init() -> None:
    """In each worker of a batch: the parent alone handles SIGTERM/SIGINT (it stops the workers
    and their kernels). A worker dies on SIGTERM; Ctrl-C in a terminal reaches the whole
    foreground group, so a worker lets it pass (a Python handler, not SIG_IGN, which the
    kernels it starts would inherit)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, lambda *_: None)


HEARTBEAT_SECONDS = 60.0


def _say(text: str) -> None:
    """Print ``text`` and its newline in ONE write: the notebooks of a batch print from
    several processes into the same stdout, and ``print`` writes the text and the newline
    separately (two writes when Python runs unbuffered), so two lines could run together."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def _heartbeat(name: str):
    """While a notebook runs, print which cell it is on every :data:`HEARTBEAT_SECONDS`.

    A report over 10^8 events runs for many minutes; without this a scheduled run says
    nothing between "running 5 notebooks" and the first result. Short runs print nothing.
    Yields the hook to call at each cell start (papermill's ``cell_start``).
    """
    import threading

    state: dict[str, Any] = {}
    done = threading.Event()
    t0 = time.time()

    def on_cell(cell, nb):
        cells = _source_cells(nb)
        index = next((k for k, c in enumerate(cells) if c is cell), None)
        if index is not None:  # not the injected parameters
            state.update(index=index, total=len(cells), source=cell.source, start=time.time())

    def beat():
        while not done.wait(HEARTBEAT_SECONDS):
            if "index" not in state:
                continue
            first = next((ln.strip() for ln in state["source"].splitlines() if ln.strip()), "")
            _say(f"  ...    {name}: cell {state['index'] + 1} of {state['total']} running for "
                 f"{(time.time() - state['start']) / 60:.1f} min ({(time.time() - t0) / 60:.1f} min in all): "
                 f"{first[:70]}")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield on_cell
    finally:
        done.set()
        thread.join()


@contextlib.contextmanager
def _kernel_config(scratch: str | None = None):
    """Each kernel talks over Unix sockets in a folder of its own (inside ``scratch`` when given).

    Nothing then listens on a TCP port (ipykernel warns about every unencrypted one),
    and kernels started side by side cannot race for the same port or socket file.
    The kernel logs only critical messages: a cell's error is reported from the notebook,
    and what else reached the batch's console was "[IPKernelApp] ERROR | KeyboardInterrupt
    caught in kernel", from the interrupt jupyter_client sends every kernel it shuts down.
    """
    # capture_fd_output off: what is written to the kernel's file descriptors 1 and 2 below
    # Python (a JVM, C libraries) goes to the kernel's stdout/stderr, i.e. the run's engine.log
    # (see _register_engine), not into the report; print() and warnings still reach the notebook.
    quiet = {"NotebookClient": {"extra_arguments": ["--IPKernelApp.log_level=CRITICAL",
                                                    "--IPKernelApp.capture_fd_output=False"]}}
    if os.name != "posix":
        yield Config(quiet)
        return
    if scratch is not None and len(os.path.join(scratch, "jl-kernel-xxxxxxxx", "k-99")) > 100:
        scratch = None  # a Unix socket's path has at most 107 bytes: the system's temporary folder then
    with tempfile.TemporaryDirectory(prefix="jl-kernel-", dir=scratch) as d:
        # the connection file beside the sockets: a stopped run leaves neither behind
        yield Config({**quiet, "KernelManager": {"transport": "ipc", "ip": os.path.join(d, "k"),
                                                 "connection_file": os.path.join(d, "kernel.json")}})


_ENGINE = "journeylib"


@functools.cache
def _register_engine() -> None:
    """papermill's nbclient engine, calling ``on_cell(cell, notebook)`` when each cell starts and
    starting the kernel with its stdout and stderr appended to ``engine_log`` (when given)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, engine_log=None, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, **kwargs):
            if on_cell is not None:
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    on_cell(cell, nb_man.nb)
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            # as NBClientEngine.execute_managed_notebook, with Popen arguments for the kernel
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
                                        startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                        log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            if engine_log is None:
                return client.execute()
            with open(engine_log, "ab") as log:
                return client.execute(stdout=log, stderr=log)

    papermill_engines.register(_ENGINE, Engine)


@contextlib.contextmanager
def _kernel_env(values: Mapping[str, str | None]):
    """Set (``None``: unset) environment variables for the kernel about to start, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def slowest_step(nb) -> dict[str, Any] | None:
    """The code cell of an executed notebook that took longest, named by the heading above it.

    Papermill records each cell's duration (``metadata.papermill.duration``); the step is the
    text of the nearest section heading (``##`` or deeper) before the cell, ``"set-up"`` before
    the first one (imports, connecting, loading the data).

    Parameters
    ----------
    nb
        The executed notebook (``nbformat`` node).

    Returns
    -------
    dict or None
        ``{"step": heading, "seconds": duration}``; ``None`` when no cell has a duration.

    Examples
    --------
    >>> import nbformat
    >>> from journeylib.report.runner import slowest_step
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("x = 1", metadata={"papermill": {"duration": 0.4}}),
    ...     nbformat.v4.new_markdown_cell("## Journey map"),
    ...     nbformat.v4.new_code_cell("jm = 2", metadata={"papermill": {"duration": 2.5}})])
    >>> slowest_step(nb)
    {'step': 'Journey map', 'seconds': 2.5}
    """
    step, best = "set-up", None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next((line.lstrip("#").strip() for line in str(cell.source).splitlines()
                            if line.startswith("##")), None)  # the "# " title is the whole report
            step = heading or step
        elif cell.cell_type == "code":
            d = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
            if isinstance(d, (int, float)) and (best is None or d > best["seconds"]):
                best = {"step": step, "seconds": round(float(d), 2)}
    return best


def _execute(notebook: Path, params: dict[str, Any], out: Path, no_input: bool, timeout: int | None,
             scratch: str | None = None, retries: int = 0) -> RunResult:
    """Run one notebook into ``out``. Its kernel's temporary files (sockets, connection file,
    DuckDB spill folders) go to a folder inside ``scratch``, removed afterwards (and by
    :func:`cancel_on_signals` when the run is stopped). A transient failure (see
    :func:`is_transient`) is run again, up to ``retries`` more times. What the engine and
    the kernel write below Python (Spark's JVM log, progress bars) goes to ``out/engine.log``."""
    import papermill as pm

    from ..core.engine import ENGINE_LOG_VAR

    _register_engine()
    stem = notebook.stem
    ipynb_path, html_path = out / f"{stem}.ipynb", out / f"{stem}.html"
    fd, health_file = tempfile.mkstemp(prefix=f".{stem}-health-", suffix=".json", dir=out)
    os.close(fd)
    tmp_nb = out / f".{stem}.running.ipynb"
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.time()
    error = None
    show_ids = params.get(SHOW_IDS_PARAMETER) is True
    own = tempfile.mkdtemp(prefix="jl-", dir=scratch)
    engine_log = str((out / ENGINE_LOG).resolve())
    env = {ENV_VAR: health_file, "TMPDIR": own, "JUPYTER_RUNTIME_DIR": own,
           SHOW_IDS_VAR: "1" if show_ids else os.environ.get(SHOW_IDS_VAR),
           TABLES_ENV_VAR: str((out / f"{stem}{TABLES_SUFFIX}").resolve()), ENGINE_LOG_VAR: engine_log}
    tries = 0
    try:
        with _kernel_env(env):
            while True:
                tries += 1
                ename = evalue = ""
                _log_line(engine_log, f"=== {notebook.name}: try {tries} started "
                                      f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
                for attempt in (1, 2):
                    try:
                        with _kernel_config(own) as config, _heartbeat(notebook.name) as on_cell:
                            pm.execute_notebook(str(notebook), str(tmp_nb), parameters=params,
                                                kernel_name="python3", cwd=str(notebook.parent),
                                                progress_bar=False, engine_name=_ENGINE,
                                                execution_timeout=timeout, log_output=False, config=config,
                                                on_cell=on_cell, engine_log=engine_log)
                        error = None
                    except pm.PapermillExecutionError as exc:
                        ename, evalue = exc.ename, exc.evalue
                        error = error_text(exc.ename, exc.evalue, show_ids=show_ids)
                    except Exception as exc:  # noqa: BLE001 - kernel death, timeout, ...
                        ename, evalue = type(exc).__name__, str(exc)
                        error = error_text(type(exc).__name__, str(exc), show_ids=show_ids)
                        # On TCP (Windows), kernels started at the same moment can race for the
                        # same free port ("Address already in use", then "Kernel died before
                        # replying to kernel_info"): nothing ran yet, so start once more.
                        if attempt == 1 and _kernel_start_race(str(exc)):
                            continue
                    break
                if error is None or tries > retries or not is_transient(ename, evalue):
                    break
                _say(f"  retry  {notebook.name}: try {tries} of {retries + 1} failed ({error}); running it again")
                _log_line(engine_log, f"=== {notebook.name}: try {tries} failed: {error}")
                with contextlib.suppress(OSError):
                    tmp_nb.unlink()
                Path(health_file).write_text("")  # the next try records its own health
    finally:
        shutil.rmtree(own, ignore_errors=True)
    seconds = time.time() - t0
    health = _read_health(health_file)
    os.unlink(health_file)
    if tmp_nb.exists():
        nb = nbformat.read(tmp_nb, as_version=4)
        tmp_nb.replace(ipynb_path)
    else:  # the kernel never started: keep a copy of the source so the report has something
        nb = nbformat.read(notebook, as_version=4)
        _atomic_write(ipynb_path, nbformat.writes(nb))
    where = _failing_cell(nb)
    if where and error is None:
        error = "a cell produced an error output"
    if error and where:
        error = f"{notebook.name}, {where}: {error}"
    elif error:
        error = f"{notebook.name}: {error}"
    try:
        declared = notebook_parameters(notebook)
    except Exception:  # noqa: BLE001 - the parameters are shown by name then
        declared = None
    body = html_pages.render_notebook(nb, no_input)
    defaults = {k: d.get("default") for k, d in (declared or {}).items()}
    bases = path_bases(notebook, {**defaults, **params}, out)
    _atomic_write(html_path, html_pages.report_page(
        body, nb, stem=stem, started=started, seconds=seconds, params=params, health=health, error=error,
        declared=declared, bases=bases))
    status, notes = html_pages.report_status(error, health)
    title = html_pages.report_title(nb) or stem
    found = tuple(html_pages.headline_findings(health))
    return RunResult(notebook.name, error is None, seconds, html_path, ipynb_path, params, error, status, notes,
                     title, found, html_pages.caption_of(health), tries, tuple(input_fingerprints(health)),
                     tuple(failed_checks(health)), journey_fingerprint({**defaults, **params}), slowest_step(nb))


ENGINE_LOG = "engine.log"
"""File of a run folder that receives what engines write below Python (Spark's JVM warnings and
progress bars, DuckDB's progress bar): never the report."""

TRANSIENT_ERRORS = ("DeadKernelError", "CellTimeoutError", "TimeoutError", "Py4JNetworkError", "ConnectionError",
                    "ConnectionResetError", "ConnectionRefusedError", "ConnectionAbortedError", "BrokenPipeError")
"""Errors that say nothing about the data or the parameters: the kernel died, a cell timed out,
the engine's connection was lost. ``--retries`` runs such a notebook again."""


def is_transient(ename: str, evalue: str = "") -> bool:
    """Whether a notebook that failed with ``ename: evalue`` may succeed when simply run again.

    A journeylib error (bad data, a bad parameter, a model that cannot be fitted) never is: it
    fails the same way every time. The kernel dying, a cell timing out or the engine's connection
    dropping (:data:`TRANSIENT_ERRORS`) are.

    Parameters
    ----------
    ename
        The exception's type name.
    evalue
        Its message.

    Returns
    -------
    bool
        Whether a retry may help.

    Examples
    --------
    >>> from journeylib.report.runner import is_transient
    >>> is_transient("DeadKernelError"), is_transient("CellTimeoutError"), is_transient("JourneyDataError", "x")
    (True, True, False)
    """
    if ename in JOURNEYLIB_ERRORS:
        return False
    return ename in TRANSIENT_ERRORS or "Kernel died" in str(evalue) or _kernel_start_race(str(evalue))


def _log_line(path: str, text: str) -> None:
    """Append one line to the engine log (a missing folder is no reason to fail a run)."""
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def input_fingerprints(health: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each input a notebook recorded as ``{"table", "source", "rows", "sha256"}`` (the run record's).

    Parameters
    ----------
    health
        A notebook's health record (what ``jl.record`` wrote).

    Returns
    -------
    list of dict
        ``{"table", "source", "rows", "sha256"}`` per input.

    Examples
    --------
    >>> from journeylib.report.runner import input_fingerprints
    >>> input_fingerprints({"inputs": [{"table": "events", "source": "events.parquet", "rows": 10, "sha256": "ab"}]})
    [{'table': 'events', 'source': 'events.parquet', 'rows': 10, 'sha256': 'ab'}]
    """
    out = []
    for i in health.get("inputs", []) or []:
        if isinstance(i, dict):
            rows = i.get("rows")
            out.append({"table": str(i.get("table", "")), "source": str(i.get("source", "")),
                        "rows": int(rows) if isinstance(rows, (int, float)) else None,
                        "sha256": str(i.get("sha256", ""))})
    return out


def failed_checks(health: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checks a notebook recorded with status ``fail``, as ``{"name", "detail"}``.

    Parameters
    ----------
    health
        A notebook's health record.

    Returns
    -------
    list of dict
        ``{"name", "detail"}`` per failed check.

    Examples
    --------
    >>> from journeylib.report.runner import failed_checks
    >>> failed_checks({"checks": [{"name": "sample ratio", "status": "fail", "detail": "52% in A"},
    ...                           {"name": "convergence", "status": "pass"}]})
    [{'name': 'sample ratio', 'detail': '52% in A'}]
    """
    return [{"name": str(c.get("name", "")), "detail": str(c.get("detail", "") or "")}
            for c in health.get("checks", []) or []
            if isinstance(c, dict) and (c.get("status") == "fail" or ("status" not in c and not c.get("passed")))]


def journey_fingerprint(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The journey definition a notebook used, ``{"source", "sha256"}`` (sha256 of the file's
    bytes; ``None`` for a URI or a file that cannot be read), or ``None`` without a journey.

    Parameters
    ----------
    params
        The notebook's parameters (``journey`` among them, or not).

    Returns
    -------
    dict or None
        ``{"source", "sha256"}``, or ``None``.

    Examples
    --------
    >>> from journeylib.report.runner import journey_fingerprint
    >>> journey_fingerprint({}) is None
    True
    >>> fp = journey_fingerprint({"journey": "sample"})
    >>> fp["source"], len(fp["sha256"])
    ('sample', 64)
    """
    value = params.get(JOURNEY_PARAMETER)
    if not isinstance(value, str) or not value:
        return None
    from ..core.journey import resolve_journey_path

    path = resolve_journey_path(value)
    digest = None
    if not (isinstance(path, str) and "://" in path):
        with contextlib.suppress(OSError):
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"source": value if value in BUNDLED_JOURNEYS else str(path), "sha256": digest}


TABLES_SUFFIX = "_tables"
"""Key tables of a report are written in full as CSV into ``<report stem>_tables/`` beside it."""


def path_bases(notebook: Path, params: Mapping[str, Any], out: Path) -> tuple[str, ...]:
    """Folders whose paths a report shows relative to them: the journey's folder, the data
    folder given, the bundled data, the output folder, the notebooks' folder, the current one.

    Parameters
    ----------
    notebook
        The notebook run.
    params
        Its parameters.
    out
        The output folder.

    Returns
    -------
    tuple of str
        The folders, most specific first.

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.runner import path_bases, resolve_notebook
    >>> bases = path_bases(resolve_notebook("02_retention_survival"), {"journey": "sample"}, Path("reports"))
    >>> [Path(b).name for b in bases][:4]  # then the working folder
    ['data', 'reports', 'reports', 'notebooks']
    """
    from ..core.locations import DATA_DIR

    bases = []
    for name, value in params.items():
        if isinstance(value, str) and value and "://" not in value and os.path.isabs(value):
            path = Path(value)
            bases.append(str(path.parent if path.suffix else path))
            bases.append(str(path.resolve().parent if path.suffix else path.resolve()))
    bases += [str(DATA_DIR), str(Path(DATA_DIR).resolve()), str(out), str(out.resolve()),
              str(notebook.parent), str(notebook.parent.resolve()), os.getcwd()]
    return tuple(dict.fromkeys(b for b in bases if b and b != os.sep))


def _source_cells(nb) -> list:
    """The cells of the source notebook: without the ones papermill adds."""
    return [c for c in nb.cells if not {"injected-parameters", "papermill-error-cell-tag"}
            & set(c.metadata.get("tags", []))]


def _failing_cell(nb) -> str | None:
    """'cell N (first line of code)' of the first cell with an error, numbered as in the source notebook."""
    for k, cell in enumerate(_source_cells(nb), 1):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return f"cell {k} ({first.strip()[:60]})"
    return None


def _read_health(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
        return json.loads(text) if text.strip() else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _write_index(out: Path, results: list[RunResult], previous: dict[str, dict[str, Any]] | None = None, *,
                 started: _dt.datetime | None = None, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``run.json`` (the run record, see :func:`run_record`), then ``index.html`` rendered from it
    (a card per report, beside the previous run's headlines) and ``index.json``; returns the record."""
    record = run_record(out, results, started=started, options=options)
    _atomic_write(out / RUN_RECORD, json.dumps(record, indent=2))
    bases = tuple(dict.fromkeys([str(out), str(out.resolve()), str(out.parent), str(out.parent.resolve()),
                                 os.getcwd()]))
    page = html_pages.index_from_record(record, previous)
    _atomic_write(out / "index.html", html_pages.prune_css(html_pages.scrub_paths(page, bases)))
    _atomic_write(out / "index.json", json.dumps([
        {k: e[k] for k in ("notebook", "ok", "status", "notes", "seconds", "tries", "html", "parameters", "error",
                           "title", "findings", "caption")} for e in record["notebooks"]], indent=2))
    return record


# --- the run record ------------------------------------------------------------------

RUN_RECORD = "run.json"
"""The machine-readable record of a run, in its folder (schema: :data:`RUN_SCHEMA`)."""
RUN_SCHEMA = Path(__file__).with_name("run_schema.json")
"""JSON Schema (draft 2020-12) of ``run.json``; see :func:`validate_run_record`."""
RECORD_FORMAT = 1
RUN_FOLDER = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
"""Name of a run folder: its UTC start time, ``-N`` when two runs started in the same second."""


def _plain(value: Any) -> Any:
    """``value`` as JSON has it (dates and other objects as text)."""
    return json.loads(json.dumps(value, default=str))


def run_status(results: list[RunResult]) -> str:
    """A run's status: ``"ok"`` (every notebook ran to its end), ``"cancelled"`` or ``"failed"``.

    Parameters
    ----------
    results
        The runs' results.

    Returns
    -------
    str
        ``"ok"``, ``"cancelled"`` or ``"failed"``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.runner import RunResult
    >>> done = RunResult("02_retention_survival", True, 41.5, Path("r.html"), Path("r.ipynb"))
    >>> broke = RunResult("03_ab_test", False, 3.2, Path("a.html"), Path("a.ipynb"),
    ...                   error="JourneyDataError: assignments: no 'variant' column")
    >>> from journeylib.report.runner import run_status
    >>> run_status([done]), run_status([done, broke])
    ('ok', 'failed')
    """
    if all(r.ok for r in results):
        return "ok"
    return "cancelled" if any(r.status == "cancelled" for r in results) else "failed"


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a report depends on (``None``: not installed); pyspark when installed.

    Returns
    -------
    dict
        ``{library: version or None}``.

    Examples
    --------
    >>> from journeylib.report.runner import library_versions
    >>> versions = library_versions()
    >>> "pandas" in versions and versions["pandas"] is not None
    True
    """
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in (*html_pages.KEY_LIBRARIES, "pyspark"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if dist != "pyspark":
                out[dist] = None
    return out


@functools.cache
def kit_commit() -> str | None:
    """The git commit of the kit when it runs from a git checkout (``None`` otherwise).

    Returns
    -------
    str or None
        The full commit hash.

    Examples
    --------
    >>> from journeylib.report.runner import kit_commit
    >>> commit = kit_commit()
    >>> commit is None or len(commit) == 40
    True
    """
    from ..core.locations import PROJ_ROOT

    if not (PROJ_ROOT / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        proc = subprocess.run(["git", "-C", str(PROJ_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def run_record(out: Path, results: list[RunResult], *, started: _dt.datetime | None = None,
               finished: _dt.datetime | None = None, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run record written to ``<run folder>/run.json`` (schema: :data:`RUN_SCHEMA`).

    ``{"format", "run", "status", "started", "finished", "seconds", "options", "kit": {"version",
    "git_commit"}, "python", "libraries", "notebooks": [...]}``; each notebook entry has its
    ``notebook``, ``title``, ``html``, ``ok``, ``status``, ``notes``, ``error``, ``seconds``,
    ``tries``, ``parameters``, ``journey`` (``{"source", "sha256"}`` or null), ``inputs``
    (table, source, rows, sha256 of each table read), ``failed_checks``, ``findings`` (the
    headline findings) and ``caption``. Times are UTC, ISO 8601.

    Parameters
    ----------
    out
        The run folder.
    results
        The notebooks' results.
    started, finished
        UTC start and end of the run (default: now).
    options
        The run's options (jobs, timeout, retries, ...), as given.

    Returns
    -------
    dict
        The record, valid against :data:`RUN_SCHEMA`.

    Examples
    --------
    >>> from pathlib import Path
    >>> from journeylib.report.runner import RunResult
    >>> done = RunResult("02_retention_survival", True, 41.5, Path("r.html"), Path("r.ipynb"))
    >>> broke = RunResult("03_ab_test", False, 3.2, Path("a.html"), Path("a.ipynb"),
    ...                   error="JourneyDataError: assignments: no 'variant' column")
    >>> from journeylib.report.runner import run_record, validate_run_record
    >>> record = run_record(Path("reports/2025-07-01T06-00-00Z"), [done, broke])
    >>> record["status"], [n["status"] for n in record["notebooks"]]
    ('failed', ['ok', 'failed'])
    >>> validate_run_record(record)
    []
    """
    finished = finished or _dt.datetime.now(_dt.timezone.utc)
    started = started or finished - _dt.timedelta(seconds=sum(r.seconds for r in results))
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    notebooks = [{"notebook": r.notebook, "title": r.title, "html": r.html.name, "ok": r.ok, "status": r.status,
                  "notes": list(r.notes), "error": r.error, "seconds": round(r.seconds, 2), "tries": r.tries,
                  "parameters": _plain(r.parameters), "journey": _plain(r.journey), "inputs": _plain(list(r.inputs)),
                  "failed_checks": _plain(list(r.failed_checks)), "findings": _plain(list(r.findings)),
                  "caption": _plain(r.caption), "slowest": _plain(r.slowest)} for r in results]
    from importlib import metadata

    try:
        kit_version = metadata.version("journeylib")
    except metadata.PackageNotFoundError:
        kit_version = None
    return {"format": RECORD_FORMAT, "run": Path(out).name, "status": run_status(results),
            "started": started.astimezone(_dt.timezone.utc).strftime(stamp),
            "finished": finished.astimezone(_dt.timezone.utc).strftime(stamp),
            "seconds": round(max(0.0, (finished - started).total_seconds()), 2),
            "options": _plain(dict(options or {})),
            "kit": {"version": kit_version, "git_commit": kit_commit()},
            "python": platform.python_version(), "libraries": library_versions(), "notebooks": notebooks}


def validate_run_record(record: Any) -> list[str]:
    """Where ``record`` departs from :data:`RUN_SCHEMA` (empty: valid).

    With ``jsonschema`` installed it checks; otherwise the schema's own keywords used there
    (type, required, properties, additionalProperties, items, enum, minimum, pattern) are
    checked here with the standard library.

    Parameters
    ----------
    record
        A parsed ``run.json``.

    Returns
    -------
    list of str
        One message per departure.

    Examples
    --------
    >>> from journeylib.report.runner import validate_run_record
    >>> validate_run_record({})[:2]
    ["run.json: 'format' is a required property", "run.json: 'run' is a required property"]
    """
    schema = json.loads(RUN_SCHEMA.read_text())
    try:
        import jsonschema
    except ImportError:
        return _check_schema(record, schema, "run.json")
    validator = jsonschema.Draft202012Validator(schema)
    return [f"run.json{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(record)]


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
               "integer": int, "number": (int, float)}


def _check_schema(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(isinstance(value, _JSON_TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                   for t in names):
            return [f"{where}: {value!r} is not of type {names}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        problems.append(f"{where}: {value!r} is less than the minimum of {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        problems += [f"{where}: {k!r} is a required property" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                problems += _check_schema(v, props[k], f"{where}[{k!r}]")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: additional property {k!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += _check_schema(v, schema["additionalProperties"], f"{where}[{k!r}]")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for k, v in enumerate(value):
            problems += _check_schema(v, schema["items"], f"{where}[{k}]")
    return problems


def read_run(folder: Path) -> dict[str, Any] | None:
    """The record of one run folder: its ``run.json``, or one made from ``index.json`` for runs
    written before run records existed (``None`` when it has neither).

    Parameters
    ----------
    folder
        A run folder.

    Returns
    -------
    dict or None
        The run record.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from journeylib.report.runner import RunResult, read_run, run_record
    >>> done = RunResult("02_retention_survival", True, 41.5, Path("r.html"), Path("r.ipynb"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(read_run(Path(tmp)))
    ...     _ = (Path(tmp) / "run.json").write_text(json.dumps(run_record(Path(tmp), [done])))
    ...     print(read_run(Path(tmp))["status"])
    None
    ok
    """
    folder = Path(folder)
    with contextlib.suppress(OSError, ValueError):
        record = json.loads((folder / RUN_RECORD).read_text())
        if isinstance(record, dict) and isinstance(record.get("notebooks"), list):
            return record
    try:
        entries = [e for e in json.loads((folder / "index.json").read_text()) if isinstance(e, dict)]
    except (OSError, ValueError, TypeError):
        return None
    status = "ok" if all(e.get("ok") for e in entries) else (
        "cancelled" if any(e.get("status") == "cancelled" for e in entries) else "failed")
    return {"run": folder.name, "status": status, "seconds": round(sum(float(e.get("seconds") or 0)
                                                                        for e in entries), 2), "notebooks": entries}


def run_folders(root: str | Path) -> list[Path]:
    """The run folders under ``root``, oldest first (by name: the UTC start time).

    Parameters
    ----------
    root
        The report root.

    Returns
    -------
    list of pathlib.Path
        The run folders.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from journeylib.report.runner import run_folders
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run_folders(tmp)
    []
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and RUN_FOLDER.match(p.name)),
                  key=lambda p: (p.name[:16], int(p.name[17:] or 0)))


def runs_text(root: str | Path, limit: int | None = None) -> str:
    """Past runs under ``root``, newest first: status, notebooks that ran to the end, time, tries,
    and what changed since the run before: a notebook's status, its headline numbers.

    Parameters
    ----------
    root
        The report root.
    limit
        Runs listed (``None``: all).

    Returns
    -------
    str
        Text for the console (``journeylib runs``).

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.report.runner import runs_text
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     runs_text(tmp).startswith("no runs in ")
    True
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise JourneyParameterError(f"--limit {limit!r}: expected a whole number of runs to show, at least 1")
    folders = run_folders(root)
    if not folders:
        return f"no runs in {root}"
    records = [(f, read_run(f)) for f in folders]
    latest = (Path(root) / "latest").resolve() if (Path(root) / "latest").exists() else None
    before: dict[str, Any] | None = None
    blocks = []
    for folder, record in records:
        if record is None:
            blocks.append([f"{folder.name}  (no run record)"])
            continue
        entries = [e for e in record.get("notebooks", []) if isinstance(e, dict)]
        n_ok = sum(bool(e.get("ok")) for e in entries)
        tries = sum(int(e.get("tries") or 1) for e in entries) - len(entries)
        head = (f"{folder.name}  {str(record.get('status', '?')).upper():9} {n_ok} of {len(entries)} notebooks ran "
                f"to the end, {float(record.get('seconds') or 0):.1f} s"
                + (f", {tries} retr{'y' if tries == 1 else 'ies'}" if tries > 0 else "")
                + ("  (latest)" if latest is not None and folder.resolve() == latest else ""))
        block = [head]
        prev = {e.get("notebook"): e for e in (before or {}).get("notebooks", []) if isinstance(e, dict)}
        for e in entries:
            name, was = str(e.get("notebook", "")), prev.get(e.get("notebook"))
            if e.get("status") not in ("ok", None) and (was is None or was.get("status") != e.get("status")):
                error = str(e.get("error") or "") or ", ".join(str(n) for n in e.get("notes") or ())
                error = error[len(name):].lstrip(",: ") if error.startswith(name) else error
                block.append(f"    {name}: {e.get('status')}" + (f" (was {was.get('status')})" if was else "")
                             + (f": {error}" if error else ""))
            elif was is not None and was.get("status") != e.get("status"):
                block.append(f"    {name}: {e.get('status')} (was {was.get('status')})")
            if was is None:
                continue
            old = [f for f in was.get("findings", []) or [] if isinstance(f, dict)]
            for k, f in enumerate([f for f in e.get("findings", []) or [] if isinstance(f, dict)]
                                  [:html_pages.INDEX_FINDINGS]):
                match = html_pages.previous_finding(f, k, old)
                if match is None:
                    continue
                change, _ = html_pages.change_text(f, match)
                if change and change != "no change":
                    block.append(f"    {name}: {f.get('text', '')} ({change})")
        blocks.append(block)
        before = record
    return "\n".join(line for block in reversed(blocks[-limit:] if limit else blocks) for line in block)


def parse_keep(keep: Any) -> tuple[str, int]:
    """``--keep`` as ``("runs", N)`` (``5``: the 5 newest run folders) or ``("days", N)`` (``"30d"``).

    Parameters
    ----------
    keep
        ``N`` (an int or its text) or ``"Nd"``.

    Returns
    -------
    tuple
        ``("runs", N)`` or ``("days", N)``.

    Raises
    ------
    JourneyParameterError
        For anything else.

    Examples
    --------
    >>> from journeylib.report.runner import parse_keep
    >>> parse_keep(5), parse_keep("30d")
    (('runs', 5), ('days', 30))
    """
    text = str(keep).strip().lower()
    match = re.fullmatch(r"(\d+)\s*(d|days?)?", text) if not isinstance(keep, bool) else None
    if match is None or int(match.group(1)) < 1:
        raise JourneyParameterError(f"--keep {keep!r}: expected a number of runs (e.g. 10) or of days "
                                    "(e.g. 30d), at least 1")
    return ("days" if match.group(2) else "runs", int(match.group(1)))


def _folder_time(folder: Path) -> _dt.datetime:
    return _dt.datetime.strptime(folder.name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc)


def prune_runs(root: str | Path, keep: str | int | tuple[str, int], *,
               now: _dt.datetime | None = None) -> list[Path]:
    """Remove run folders under ``root`` beyond ``keep``; the removed folders.

    ``keep`` is ``N`` (the N newest run folders stay) or ``"Nd"`` (folders started within the
    last N days stay). The latest successful run (status ``ok``) and the folder ``latest``
    points at are never removed, whatever their age. Only folders named as runs are touched.

    Parameters
    ----------
    root
        The report root.
    keep
        ``N``, ``"Nd"`` or a :func:`parse_keep` tuple.
    now
        The current time (UTC; for tests).

    Returns
    -------
    list of pathlib.Path
        The removed folders.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.report.runner import prune_runs
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     prune_runs(tmp, 5)
    []
    """
    kind, n = keep if isinstance(keep, tuple) else parse_keep(keep)
    folders = run_folders(root)
    protect = set()
    ok = [f for f in folders if (read_run(f) or {}).get("status") == "ok"]
    if ok:
        protect.add(ok[-1].resolve())
    link = Path(root) / "latest"
    if link.is_symlink():
        with contextlib.suppress(OSError):
            protect.add(link.resolve())
    if kind == "runs":
        old = folders[:-n]
    else:
        cutoff = (now or _dt.datetime.now(_dt.timezone.utc)) - _dt.timedelta(days=n)
        old = [f for f in folders if _folder_time(f) < cutoff]
    removed = []
    for folder in old:
        if folder.resolve() in protect:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


def _new_run_folder(root: Path) -> Path:
    _make_dir(root)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for k in range(1000):
        folder = root / (stamp if k == 0 else f"{stamp}-{k}")
        try:
            folder.mkdir()  # fails if a concurrent run took this name
            return folder
        except FileExistsError:
            continue
    raise JourneyParameterError(f"could not create a run folder under {root}")


def _point_latest(root: Path, target: Path) -> None:
    """Atomically repoint ``root/latest`` at ``target`` (a relative symlink)."""
    tmp = root / f".latest-{os.getpid()}-{time.time_ns()}"
    try:
        os.symlink(target.name, tmp)
        os.replace(tmp, root / "latest")
    except OSError:
        traceback.print_exc()


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be shared
    os.replace(tmp, path)
