"""Issue 22 for the runner and the CLI: failures leak no ids, bad options are one-line errors (exit 2),
paths are relative to where the command ran, partial reports say so, a stopped run leaves nothing behind."""
import datetime as dt
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from journeylib.core.privacy import pseudonym
from journeylib.report import cli, html as html_pages, runner

EMAILS = ("alice@example.com", "bob@example.org", "carol@example.net")


def _notebook(path: Path, params: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def email_log(tmp_path):
    """A CSV whose ids are e-mail addresses, with a bad timestamp, and a notebook that loads it."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.csv").write_text("customer_id,ts,event\n" f"{EMAILS[0]},2024-01-01 10:00:00,visit\n"
                                     f"{EMAILS[1]},not a date,visit\n" f"{EMAILS[2]},2024-01-03 10:00:00,purchase\n")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "load.ipynb", 'data_dir: str = ""  # folder\nshow_ids: bool = False  # raw ids',
              "import journeylib as jl\njl.load_events(data_dir + '/events.csv')")
    return data, nbs


@pytest.mark.parametrize("show_ids", [False, True])
def test_a_failed_report_leaks_no_id_unless_show_ids(email_log, tmp_path, capfd, show_ids):
    data, nbs = email_log
    out = tmp_path / f"reports-{show_ids}"
    code = cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out), "--jobs", "1",
                     "-p", "data_dir", str(data), "-p", "show_ids", str(show_ids).lower()])
    console = "".join(capfd.readouterr())
    assert code == 1
    run = out / "latest"
    report, index, index_json = ((run / n).read_text() for n in ("load.html", "index.html", "index.json"))
    error = json.loads(index_json)[0]["error"]
    assert error.startswith("load.ipynb, cell 2 (import journeylib as jl): JourneyDataError: column 'ts' of events")
    assert "not a date" in error and "not a date" in console and "This report failed." in report
    for text in (report, index, index_json, console, (run / "load.ipynb").read_text()):
        if show_ids:
            assert EMAILS[1] in text
        else:
            assert not any(e in text for e in EMAILS)
            assert "ids pseudonymised; run with show_ids to see them" in text
    if not show_ids:
        # pseudonyms are salted per process: the kernel's differ from this one's, but they are there
        assert "cust-" in report and pseudonym(EMAILS[1]) not in report


def test_a_foreign_exception_shows_its_type_and_first_line_only():
    dump = ("Columns must be unique:\n   customer_id  ts\n0  alice@example.com  2024\n"
            "Traceback (most recent call last):\n  File 'x.py', line 1")
    assert runner.error_text("ValueError", dump) == (
        "ValueError: Columns must be unique")
    assert runner.error_text("KeyError", "'alice@example.com'") == f"KeyError: '{pseudonym('alice@example.com')}'"
    assert runner.error_text("KeyError", "'alice@example.com'", show_ids=True) == "KeyError: 'alice@example.com'"
    assert runner.error_text("RuntimeError", "x" * 500).endswith("x ...")
    assert len(runner.error_text("RuntimeError", "x" * 500)) < 230
    message = "column 'ts' of events: 1 of 3 rows invalid.\nFirst offending rows:\n  a b"
    assert runner.error_text("JourneyDataError", message) == f"JourneyDataError: {message}"  # as raised


def test_a_foreign_exception_in_a_notebook_reaches_the_banner_as_one_line(tmp_path):
    nb = _notebook(tmp_path / "dump.ipynb", "rows: int = 2  # rows",
                   "import pandas as pd\ndf = pd.DataFrame({'customer_id': ['alice@example.com'] * rows})\n"
                   "raise ValueError('bad frame:\\n' + df.to_string())")
    res = runner.run_notebook(nb, {}, tmp_path / "out")
    assert res.status == "failed" and res.error == "dump.ipynb, cell 2 (import pandas as pd): ValueError: bad frame"
    banner = res.html.read_text().split("<div class='jl-banner'>")[1].split("</div>")[0]
    assert "alice@example.com" not in banner and "bad frame" in banner


# --- one-line errors, exit code 2 ---------------------------------------------------------

@pytest.fixture
def ok_dir(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", 'engine: str = "duckdb"  # engine\nrows: int = 1  # rows', "print(engine, rows)")
    return nbs


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs 0: expected a whole number of notebooks to run at a time, at least 1"),
    (["--jobs", "-3"], "--jobs -3: expected a whole number"),
    (["--timeout", "0"], "--timeout 0: expected seconds per cell, more than 0 (leave it out for no limit)"),
    (["--timeout", "-5"], "--timeout -5: expected seconds per cell"),
    (["-p", "engine", "duckbd"], "a.ipynb: engine='duckbd' is not an engine journeylib knows; expected 'duckdb'"),
])
def test_bad_run_all_options_are_one_line_errors(ok_dir, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert cli.main(["run-all", "--notebooks-dir", str(ok_dir), "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("journeylib: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()  # nothing ran, no empty folder


def test_bad_run_options_are_one_line_errors(ok_dir, tmp_path, capsys):
    nb = str(ok_dir / "a.ipynb")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for args, message in [(["--timeout", "0"], "--timeout 0: expected seconds per cell"),
                          (["-p", "engine", "sparkk"], "engine='sparkk' is not an engine journeylib knows"),
                          (["--output-dir", str(blocker / "reports")],
                           f"output folder {blocker / 'reports'}: {blocker} is a file, not a folder")]:
        full = ["run", nb, "--output-dir", str(tmp_path / "o"), *args]
        assert cli.main(full) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists() and list(tmp_path.glob("*.duckdb")) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_folder_that_cannot_be_created_is_a_one_line_error(ok_dir, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert cli.main(["run", str(ok_dir / "a.ipynb"), "--output-dir", str(locked / "r")]) == 2
    assert "cannot write in" in capsys.readouterr().err


def test_an_output_folder_under_a_read_only_folder_is_refused_without_creating_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(runner.JourneyParameterError, match=f"output folder {tmp_path / 'a' / 'b'}: cannot write in"):
        runner.check_output_dir(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()


def test_jobs_above_the_core_count_are_capped_with_a_note(ok_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    results = runner.run_all(ok_dir, tmp_path / "out", jobs=8)
    assert [r.status for r in results] == ["ok"]
    out = capsys.readouterr().out
    assert "note: --jobs 8 is more than the 1 cores of this machine; running 1 at a time" in out
    assert "(1 at a time)" in out


def test_parameter_files_run_all_would_not_read_are_errors_naming_them(ok_dir, tmp_path, capsys):
    _notebook(ok_dir / "b.ipynb", "rows: int = 1  # rows", "print(rows)")
    params = tmp_path / "params"
    params.mkdir()
    (params / "a.yaml").write_text("rows: 2\n")
    (params / "a.yml").write_text("rows: 3\n")
    (params / "bb.yaml").write_text("rows: 4\n")
    (params / "README.md").write_text("notes\n")  # not a parameter file: ignored
    assert cli.main(["run-all", "--notebooks-dir", str(ok_dir), "--params-dir", str(params),
                     "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"journeylib: params_dir {params}: parameter files that would not be read: a.yml (run-all reads "
                   "only <notebook name>.yaml: rename to .yaml, keeping one file per notebook); bb.yaml (no notebook "
                   "of that name); expected one of a.yaml, b.yaml\n")
    (params / "a.yml").unlink()
    (params / "bb.yaml").rename(params / "b.yaml")
    results = runner.run_all(ok_dir, tmp_path / "out", params_dir=params, jobs=1)
    assert [r.parameters for r in results] == [{"rows": 2}, {"rows": 4}]


# --- paths relative to where the command ran -------------------------------------------------

def test_a_relative_data_dir_is_resolved_against_the_current_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "shop" / "data").mkdir(parents=True)
    (tmp_path / "shop" / "data" / "events.csv").write_text("customer_id,ts,event\na,2024-01-01,visit\n")
    nbs = tmp_path / "kit" / "notebooks"
    nbs.mkdir(parents=True)
    nb = _notebook(nbs / "where.ipynb", 'data_dir: str = "data"  # folder\nengine: str = "duckdb"  # engine',
                   "import os\nprint(os.path.isfile(os.path.join(data_dir, 'events.csv')), data_dir, engine)")
    monkeypatch.chdir(tmp_path / "shop")
    code = cli.main(["run", str(nb), "-p", "data_dir", "data", "-p", "engine", "shop.duckdb",
                     "--output-dir", "reports"])
    assert code == 0, capsys.readouterr()
    run = tmp_path / "shop" / "reports" / "latest"  # the output folder too is relative to the current directory
    index = json.loads((run / "index.json").read_text())
    data, db = str((tmp_path / "shop" / "data").resolve()), str((tmp_path / "shop" / "shop.duckdb").resolve())
    assert index[0]["parameters"] == {"data_dir": data, "engine": db}
    printed = json.loads((run / "where.ipynb").read_text())["cells"][-1]["outputs"][0]["text"]
    assert "".join(printed).split() == ["True", data, db]
    # in a parameter file, relative to the file's folder
    pfile = tmp_path / "shop" / "p.yaml"
    pfile.write_text("data_dir: data\nengine: duckdb\n")
    assert runner.parse_cli_parameters(nb, [], pfile) == {"data_dir": data, "engine": "duckdb"}
    # a name that is not a path of the current directory stays as given
    assert runner.parse_cli_parameters(nb, [("data_dir", "elsewhere")]) == {"data_dir": "elsewhere"}


# --- partial reports and failed checks --------------------------------------------------------

def test_failed_sections_make_a_report_partial_and_failed_checks_show_in_the_index(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write = ("import json, os\njson.dump({{'inputs': [], 'checks': {checks}, 'sections': {sections}}}, "
             "open(os.environ['JOURNEYLIB_HEALTH_FILE'], 'w'))")
    section = [{"name": "CLV model", "status": "failed", "reason": "too few repeat buyers (3)"},
               {"name": "Cohorts", "status": "ok"}]
    _notebook(nbs / "p.ipynb", "rows: int = 1  # rows", write.format(checks=[], sections=section))
    checks = [{"name": "SRM: e1", "passed": False, "status": "fail", "detail": "p < 0.001"},
              {"name": "ok one", "passed": True, "status": "pass", "detail": ""}]
    _notebook(nbs / "c.ipynb", "rows: int = 1  # rows", write.format(checks=checks, sections=[]))
    _notebook(nbs / "w.ipynb", "rows: int = 1  # rows", write.format(
        checks=[{"name": "events: future timestamps", "passed": False, "status": "warn", "detail": ""}], sections=[]))
    results = runner.run_all(nbs, tmp_path / "out", jobs=1)
    assert [(r.notebook, r.ok, r.status, r.notes) for r in results] == [
        ("c.ipynb", True, "ok, with failed checks", ("SRM: e1",)),
        ("p.ipynb", True, "partial", ("CLV model",)),
        ("w.ipynb", True, "ok, with warnings", ("events: future timestamps",))]
    run = tmp_path / "out" / "latest"
    index = (run / "index.html").read_text()
    # one card per report; a report whose checks failed is visibly not "ok"
    assert ("<article class='jl-card warn'><h3><a href='p.html'>p</a></h3><p><span class='jl-status-word warn'>"
            "PARTIAL</span> sections not computed: CLV model</p>") in index
    assert ("<span class='jl-status-word warn'>CHECKS FAILED</span> failed checks: SRM: e1</p>") in index
    assert "<span class='jl-status-word pass'>OK, with warnings</span>" in index
    assert "3 of 3 ran to the end (partial: 1, checks failed: 1)" in index
    assert [r["status"] for r in json.loads((run / "index.json").read_text())] == [
        "ok, with failed checks", "partial", "ok, with warnings"]
    page = (run / "p.html").read_text()
    assert "Report health: p (partial)" in page
    assert "<span class='jl-status-word warn'>PARTIAL</span> 0 checks passed, 0 warnings, 0 failed." in page
    assert "Not computed: CLV model (too few repeat buyers (3))." in page
    assert "CLV model: too few repeat buyers (3)" in page and "This report failed." not in page
    assert results[1].describe().startswith("p.ipynb: PARTIAL (CLV model) in ")


def test_report_status_from_the_health_record():
    assert html_pages.report_status("boom", {"sections": [{"name": "x", "status": "failed"}]}) == ("failed", ())
    assert html_pages.report_status(None, {}) == ("ok", ())
    assert html_pages.report_status(None, {"checks": [{"name": "old", "passed": False}]}) == (
        "ok, with failed checks", ("old",))
    panel = html_pages.health_panel("x", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), 1.0, {},
                                    {"sections": [{"name": "<b>RFM</b>", "status": "failed", "reason": "a & b"}]},
                                    None)
    assert "&lt;b&gt;RFM&lt;/b&gt;: a &amp; b" in panel and "(partial)" in panel


# --- SIGTERM --------------------------------------------------------------------------------

def _kernels(procs):
    import psutil

    out = []
    for p in procs:
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


@pytest.mark.parametrize("command", ["run-all", "run"])
def test_sigterm_stops_every_worker_and_kernel_and_leaves_no_temporary_file(tmp_path, command):
    import psutil

    from journeylib.core.locations import NOTEBOOKS_DIR

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for name in ("slow_a", "slow_b", "slow_c"):
        _notebook(nbs / f"{name}.ipynb", "seconds: int = 120  # sleep",
                  "import journeylib as jl, time\njl.connect()\ntime.sleep(seconds)")
    scratch = Path(tempfile.mkdtemp(prefix="h2sig-", dir="/tmp"))  # short: kernel sockets live below it
    out = tmp_path / "reports"
    args = (["run-all", "--notebooks-dir", str(nbs), "--jobs", "2"] if command == "run-all"
            else ["run", str(nbs / "slow_a.ipynb")])
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "journeylib.report.cli", *args, "--output-dir", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    parent = psutil.Process(proc.pid)
    deadline, seen = time.time() + 90, []
    while time.time() < deadline:
        procs = parent.children(recursive=True)
        seen = procs
        kernels = _kernels(procs)
        # a kernel is running and has got as far as the sleeping cell (it imported journeylib)
        if kernels and list((out).glob("*/.*-health-*.json")) and list(scratch.glob("jl-run-*/jl-*/jl-kernel-*")):
            break
        time.sleep(0.2)
    else:
        for p in [*seen, parent]:
            p.kill()
        shutil.rmtree(scratch, ignore_errors=True)
        pytest.fail("no kernel started: " + proc.communicate(timeout=10)[0])
    time.sleep(3)  # into the sleeping cell
    seen = parent.children(recursive=True)
    assert _kernels(seen)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert time.time() - t0 < 15
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "stopped by SIGTERM; unfinished reports are marked cancelled" in output
    alive = [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    run = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    leftovers = [p.name for p in out.rglob(".*")] + [p.name for p in out.rglob("*.tmp")]
    assert leftovers == [], leftovers
    left = list(scratch.iterdir())
    shutil.rmtree(scratch, ignore_errors=True)
    assert left == []  # kernel sockets, connection files, DuckDB spill folders
    index = json.loads((run / "index.json").read_text())
    expected = ["slow_a.ipynb", "slow_b.ipynb", "slow_c.ipynb"] if command == "run-all" else ["slow_a.ipynb"]
    assert [r["notebook"] for r in index] == expected and {r["status"] for r in index} == {"cancelled"}
    assert "CANCELLED" in (run / "index.html").read_text()
    assert "This report was cancelled." in (run / "slow_a.html").read_text()
    assert os.path.realpath(out / "latest") == str(run)
    assert NOTEBOOKS_DIR.exists()  # the kit itself untouched


def test_an_engine_out_of_memory_is_said_in_words_with_what_to_do(tmp_path):
    """DuckDB's out-of-memory error: a section shows it in place and the report goes on; anywhere else
    the banner says to give the engine memory, never to fix the input."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    setup = ("import journeylib as jl\nfrom journeylib.core import engine\n"
             "con = jl.connect('duckdb', memory_limit='20MB')\n"
             "big = con.sql('SELECT i % 3 AS g, i FROM range(5000000) r(i)')\n"
             "lists = big.group_by('g').aggregate(v=big.i.collect())  # a list per group cannot spill\n")
    _notebook(nbs / "in_section.ipynb", "rows: int = 1  # rows",
              setup + "with jl.section('Lists'):\n    engine.to_pandas(lists)\n"
              "with jl.section('Lists again'):\n    lists.to_pyarrow()  # not a fetch of journeylib's\n"
              "print('after the sections')")
    _notebook(nbs / "raw.ipynb", "rows: int = 1  # rows", setup + "lists.to_pyarrow()")
    section, raw = runner.run_all(nbs, tmp_path / "out", jobs=1)
    assert (section.status, section.notes, raw.status) == ("partial", ("Lists", "Lists again"), "failed")
    page = section.html.read_text()
    for title in ("Lists", "Lists again"):
        assert f"{title} could not be computed.</strong> the engine ran out of memory in this step" in page
    assert "What to change: give DuckDB more memory (JOURNEYLIB_DUCKDB_MEMORY_LIMIT" in page
    assert "after the sections" in page and "Possible solutions" not in page
    banner = raw.html.read_text().split("<div class='jl-banner'>")[1].split("</div>")[0]
    assert "JourneyMemoryError: the engine ran out of memory in this step (DuckDB: failed to allocate" in banner
    assert "give the engine more memory as the message says and re-run" in banner
    assert "fix the input" not in banner and "Possible solutions" not in banner
