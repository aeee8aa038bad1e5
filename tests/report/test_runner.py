"""The papermill runner and the CLI: parameters checked up front, failures reported, batches survive."""
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from journeylib.report import cli, html as html_pages, runner as report
from journeylib.core.errors import JourneyParameterError

FIX = Path(__file__).parents[1] / "fixtures"
OK, RAISES = FIX / "ok.ipynb", FIX / "raises.ipynb"


def test_unknown_parameter_rejected_with_valid_names(capsys, tmp_path):
    code = cli.main(["run", str(OK), "-p", "colour", "red", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown parameter(s) ['colour']" in err and "rows (int)" in err and "label (str)" in err
    assert not any(tmp_path.iterdir())  # rejected before anything ran


@pytest.mark.parametrize("name, value, expected", [("rows", "three", "must be int"), ("flag", "maybe", "must be bool")])
def test_value_checked_against_default_type(capsys, tmp_path, name, value, expected):
    assert cli.main(["run", str(OK), "-p", name, value, "--output-dir", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err


def test_a_notebook_is_a_path_or_the_name_of_one_of_the_kit(capsys, tmp_path, monkeypatch):
    from journeylib.core.locations import NOTEBOOKS_DIR

    assert report.resolve_notebook("02_retention_survival") == NOTEBOOKS_DIR / "02_retention_survival.ipynb"
    assert report.resolve_notebook("03_ab_test.ipynb") == NOTEBOOKS_DIR / "03_ab_test.ipynb"
    monkeypatch.chdir(tmp_path)  # a path that does not exist is not swapped for the kit's notebook
    with pytest.raises(JourneyParameterError, match="notebook not found: elsewhere/03_ab_test.ipynb"):
        report.resolve_notebook("elsewhere/03_ab_test.ipynb")
    assert cli.main(["run", "nope", "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "notebook not found: nope" in err and "02_retention_survival" in err and "Traceback" not in err


def test_yaml_values_type_checked(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("rows: 2.5\n")
    with pytest.raises(JourneyParameterError, match="parameter 'rows' must be int"):
        report.parse_cli_parameters(OK, [], f)


def test_cli_values_converted_by_default_type():
    p = report.parse_cli_parameters(OK, [("rows", "5"), ("ratio", "2"), ("flag", "true"), ("label", "5")])
    assert p == {"rows": 5, "ratio": 2.0, "flag": True, "label": "5"}


def test_ok_run_writes_reports_with_health_panel_and_literal_text(tmp_path):
    tricky = 'say "hi"\nimport os; os.remove("x")'
    res = report.run_notebook(OK, {"label": tricky, "rows": 4}, tmp_path)
    assert res.ok, res.error
    html = res.html.read_text()
    assert "Report health" in html and "PASS: planted check" in html and "rows=4" in html
    assert res.ipynb.exists() and (tmp_path / "latest" / res.html.name).exists()
    outputs = json.dumps(json.loads(res.ipynb.read_text())["cells"])
    assert repr(tricky).replace("\\", "\\\\").replace('"', '\\"') in outputs  # printed back verbatim, not executed
    assert oct(res.html.stat().st_mode)[-3:] == "644"


def test_failing_notebook_exits_nonzero_and_still_saves_reports(tmp_path, capsys):
    code = cli.main(["run", str(RAISES), "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "ValueError: planted failure for the runner tests" in out and "raises.ipynb, cell 4 (raise ValueError" in out
    html = next(tmp_path.glob("*/raises.html")).read_text()
    assert "This report failed." in html and "planted failure" in html
    nb = json.loads(next(tmp_path.glob("*/raises.ipynb")).read_text())
    assert any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))


def test_run_all_continues_past_failures(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for src in (OK, RAISES):
        (nbs / src.name).write_bytes(src.read_bytes())
    params = tmp_path / "params"
    params.mkdir()
    (params / "ok.yaml").write_text("rows: 7\n")
    out = tmp_path / "reports"
    code = cli.main(["run-all", "--notebooks-dir", str(nbs), "--params-dir", str(params), "--output-dir", str(out)])
    assert code == 1
    first = os.path.realpath(out / "latest")
    index = json.loads((out / "latest" / "index.json").read_text())
    assert [(r["notebook"], r["ok"]) for r in index] == [("ok.ipynb", True), ("raises.ipynb", False)]
    assert index[0]["parameters"] == {"rows": 7}
    assert "1 of 2 notebooks succeeded" in capsys.readouterr().out
    assert "FAILED" in (out / "latest" / "index.html").read_text()
    # a second run gets its own folder; the first is left intact
    cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out)])
    assert os.path.realpath(out / "latest") != first and (Path(first) / "ok.html").exists()
    # the next run starts the notebooks longest first, by these durations
    seconds = report._previous_seconds(out)
    assert set(seconds) == {"ok.ipynb", "raises.ipynb"} and all(s > 0 for s in seconds.values())


def test_longest_notebook_starts_first():
    plan = [(Path(f"{n}.ipynb"), None) for n in ("00", "01", "02", "03")]
    order = report._longest_first(plan, {"00.ipynb": 90.0, "01.ipynb": 250.0, "03.ipynb": 15.0})
    assert [p.stem for p, _ in order] == ["02", "01", "00", "03"]  # never run (02) first, then by duration
    assert report._longest_first(plan, {}) == plan  # no previous run, none bundled: file order
    bundled = [(Path(n), None) for n in sorted(report.TYPICAL_SECONDS)]
    first = [p.name for p, _ in report._longest_first(bundled, {})]
    assert first[:2] == ["01_stage_attribution.ipynb", "00_journey_overview.ipynb"] and first[-1] == "03_ab_test.ipynb"
    assert sorted(first) == sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))  # every bundled notebook
    assert report._previous_seconds(Path("/nonexistent")) == {}


def test_timeout_marks_failed_and_keeps_earlier_reports(tmp_path):
    earlier = report.run_notebook(OK, {}, tmp_path)
    before = earlier.html.read_bytes()
    res = report.run_notebook(FIX / "sleeps.ipynb", {"seconds": 30}, tmp_path, timeout=2)
    assert not res.ok and "timed out" in res.error.lower(), res.error
    assert "This report failed." in res.html.read_text()
    assert earlier.html.read_bytes() == before
    index = json.loads((tmp_path / "latest" / "index.json").read_text())
    assert index[0]["ok"] is False


def test_concurrent_run_alls_do_not_clobber_each_other(tmp_path):
    import threading

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "ok.ipynb").write_bytes(OK.read_bytes())
    out = tmp_path / "reports"
    results = []
    threads = [threading.Thread(target=lambda: results.append(report.run_all(nbs, out, jobs=1))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    folders = sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    assert len(folders) == 2 and all((f / "ok.html").exists() and (f / "index.html").exists() for f in folders)
    assert all(r[0].ok for r in results)


def test_inputs_are_byte_identical_after_a_run(small_dir, tmp_path):
    import hashlib
    import shutil

    from journeylib.core.locations import NOTEBOOKS_DIR, SAMPLE_DIR

    data = Path(shutil.copytree(small_dir, tmp_path / "data"))
    shutil.copy(SAMPLE_DIR / "journey.yml", data / "journey.yml")  # the simulator's files: the sample's definition
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.glob("*")}
    res = report.run_notebook(NOTEBOOKS_DIR / "00_journey_overview.ipynb", {"journey": str(data / "journey.yml")},
                              tmp_path / "out")
    assert res.ok, res.error
    assert digests == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.glob("*")}


def _notebook(path: Path, params: str, body: str = "print(sorted(k for k in dir() if not k.startswith('_')))") -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def two_notebooks(tmp_path):
    """A batch: one notebook takes a journey and rows, the other rows (as float) and a label."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", 'journey: str = "sample"  # definition\nrows: int = 3  # rows')
    _notebook(nbs / "b.ipynb", 'rows: float = 1.5  # rows\nlabel: str = "x"  # label')
    journey = tmp_path / "shop" / "journey.yml"
    journey.parent.mkdir()
    journey.write_text("version: 1\n")
    return nbs, journey


def test_batch_parameters_go_to_every_notebook_that_declares_them_converted_to_its_type(two_notebooks, monkeypatch):
    nbs, journey = two_notebooks
    a, b = nbs / "a.ipynb", nbs / "b.ipynb"
    monkeypatch.chdir(journey.parent.parent)
    got = report.parse_all_parameters([a, b], [("rows", "7"), ("label", "5")], journey="shop/journey.yml")
    # the relative path is made absolute (notebooks run in their own folder); 7 is int in a, float in b
    assert got == {a: {"rows": 7, "journey": str(journey.resolve())}, b: {"rows": 7.0, "label": "5"}}
    assert type(got[a]["rows"]) is int and type(got[b]["rows"]) is float
    assert report.parse_all_parameters([a, b], [("journey", "shop")]) == {a: {"journey": str(journey.resolve())},
                                                                          b: {}}  # a folder: its journey.yml
    assert report.parse_all_parameters([a, b], [("journey", "sample")])[a] == {"journey": "sample"}


def test_a_batch_parameter_no_notebook_declares_is_an_error_listing_every_notebooks_parameters(two_notebooks):
    nbs, _ = two_notebooks
    with pytest.raises(JourneyParameterError) as err:
        report.parse_all_parameters([nbs / "a.ipynb", nbs / "b.ipynb"], [("colour", "red")])
    assert str(err.value) == ("parameter 'colour' is not a parameter of any notebook; the notebooks' parameters are: "
                              "a: journey (str), rows (int); b: rows (float), label (str)")
    with pytest.raises(JourneyParameterError, match=r"a.ipynb: parameter 'rows' must be int; got '2\.5'"):
        report.parse_all_parameters([nbs / "a.ipynb", nbs / "b.ipynb"], [("rows", "2.5")])  # int in a, float in b
    with pytest.raises(JourneyParameterError, match="journey='nowhere.yml': no such file"):
        report.parse_all_parameters([nbs / "a.ipynb"], journey="nowhere.yml")
    with pytest.raises(JourneyParameterError, match="give the journey once"):
        report.parse_all_parameters([nbs / "a.ipynb"], [("journey", "sample")], journey="sample")


def test_run_all_journey_and_p_from_the_command_line(two_notebooks, tmp_path, capsys, monkeypatch):
    nbs, journey = two_notebooks
    out = tmp_path / "reports"
    monkeypatch.chdir(journey.parent)
    code = cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out), "--jobs", "1",
                     "--journey", "journey.yml", "-p", "rows", "4", "-p", "label", "hi"])
    assert code == 0, capsys.readouterr()
    index = json.loads((out / "latest" / "index.json").read_text())
    assert [(r["notebook"], r["parameters"]) for r in index] == [
        ("a.ipynb", {"journey": str(journey.resolve()), "rows": 4}), ("b.ipynb", {"rows": 4.0, "label": "hi"})]
    # an unknown name stops the batch before any notebook runs, with exit code 2
    before = sorted(out.iterdir())
    assert cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out), "-p", "colour", "red"]) == 2
    assert "parameter 'colour' is not a parameter of any notebook" in capsys.readouterr().err
    assert sorted(out.iterdir()) == before


def test_run_journey_sets_the_journey_parameter(two_notebooks, tmp_path, capsys, monkeypatch):
    nbs, journey = two_notebooks
    monkeypatch.chdir(journey.parent)
    assert cli.main(["run", str(nbs / "a.ipynb"), "--journey", "journey.yml", "--output-dir", str(tmp_path / "o")]) == 0
    index = json.loads((tmp_path / "o" / "latest" / "index.json").read_text())
    assert index[0]["parameters"] == {"journey": str(journey.resolve())}
    # a notebook without a journey parameter rejects it, naming its parameters
    assert cli.main(["run", str(nbs / "b.ipynb"), "--journey", "journey.yml", "--output-dir", str(tmp_path / "p")]) == 2
    assert "unknown parameter(s) ['journey']" in capsys.readouterr().err


def test_a_journey_in_a_parameter_file_is_relative_to_that_file(two_notebooks, tmp_path):
    nbs, journey = two_notebooks
    params = journey.parent / "a.yaml"
    params.write_text("journey: journey.yml\n")
    assert report.parse_cli_parameters(nbs / "a.ipynb", [], params) == {"journey": str(journey.resolve())}


def test_yaml_text_with_quotes_newlines_and_code_stays_literal(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text('label: "__import__(\'os\').system(\'echo pwned\')\\n\\"quoted\\""\n')
    params = report.parse_cli_parameters(OK, [], f)
    assert params == {"label": "__import__('os').system('echo pwned')\n\"quoted\""}
    res = report.run_notebook(OK, params, tmp_path / "out")
    assert res.ok
    import nbformat

    nb = nbformat.read(res.ipynb, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert repr(params["label"]) in printed  # the notebook printed the literal value back, nothing ran


def test_a_kernel_start_race_is_retried_once_and_a_real_failure_is_not(tmp_path, monkeypatch):
    import papermill as pm

    real, calls = pm.execute_notebook, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(pm, "execute_notebook", flaky)
    res = report.run_notebook(FIX / "ok.ipynb", {}, tmp_path / "a")
    assert res.ok and len(calls) == 2

    def dead(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Kernel died")

    calls.clear()
    monkeypatch.setattr(pm, "execute_notebook", dead)
    res = report.run_notebook(FIX / "ok.ipynb", {}, tmp_path / "b")
    assert not res.ok and len(calls) == 1


def test_parallel_notebooks_share_the_cores(monkeypatch):
    monkeypatch.delenv("JOURNEYLIB_DUCKDB_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    both = "JOURNEYLIB_SHARED_TABLES_THREADS"  # the notebook writing the shared copy: every core
    with report._duckdb_threads(2):
        assert os.environ["JOURNEYLIB_DUCKDB_THREADS"] == "4" and os.environ[both] == "8"
    assert "JOURNEYLIB_DUCKDB_THREADS" not in os.environ and both not in os.environ
    with report._duckdb_threads(1):  # one notebook at a time: DuckDB's own default
        assert "JOURNEYLIB_DUCKDB_THREADS" not in os.environ and both not in os.environ
    monkeypatch.setenv("JOURNEYLIB_DUCKDB_THREADS", "3")
    with report._duckdb_threads(2):  # an explicit setting wins
        assert os.environ["JOURNEYLIB_DUCKDB_THREADS"] == "3" and both not in os.environ
    assert os.environ["JOURNEYLIB_DUCKDB_THREADS"] == "3"


def test_kernels_talk_over_unix_sockets_that_are_removed_afterwards_and_log_quietly(tmp_path, capfd, monkeypatch):
    import nbformat

    if os.name != "posix":
        pytest.skip("Unix sockets only")
    made, real = [], report._kernel_config

    @contextlib.contextmanager
    def spy(scratch=None):
        with real(scratch) as config:
            made.append(config.KernelManager.ip)
            yield config

    monkeypatch.setattr(report, "_kernel_config", spy)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json\nfrom ipykernel.connect import get_connection_file\nfrom ipykernel.kernelapp import IPKernelApp\n"
        "info = json.load(open(get_connection_file()))\n"
        "print(info['transport'], info['ip'], IPKernelApp.instance().log_level)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "where.ipynb"
    nbformat.write(nb, src)
    res = report.run_notebook(src, {}, tmp_path / "out")
    assert res.ok, res.error
    printed = "".join(json.loads(res.ipynb.read_text())["cells"][-1]["outputs"][0]["text"])
    assert printed.split() == ["ipc", made[0], "50"]  # logging.CRITICAL: no shutdown-interrupt noise
    assert not Path(made[0]).parent.exists()  # the socket folder went with the kernel
    assert "without encryption" not in capfd.readouterr().err


def test_a_long_notebook_prints_which_cell_it_is_on(tmp_path, capsys, monkeypatch):
    import nbformat

    monkeypatch.setattr(report, "HEARTBEAT_SECONDS", 0.5)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "slow.ipynb")
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, tmp_path / "slow.ipynb")
    res = report.run_notebook(tmp_path / "slow.ipynb", {"x": 2}, tmp_path / "out")  # injects a cell
    assert res.ok, res.error
    beats = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("...")]
    assert beats and all("slow.ipynb: cell" in ln for ln in beats)
    assert any("cell 2 of 2 running for" in ln and ln.endswith("import time") for ln in beats)
    time.sleep(1.2)  # the heartbeat stopped with the notebook
    assert not capsys.readouterr().out.strip()


def test_each_progress_line_is_one_write(monkeypatch):
    """The notebooks of a batch print into one stdout from several processes: a line and its
    newline go out in one write, so two lines cannot run together (print writes them apart,
    and with PYTHONUNBUFFERED each is its own system call)."""
    writes = []

    class Recorder:
        def write(self, s):
            writes.append(s)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Recorder())
    report._say("  ok     00_journey_overview.ipynb (5.2 s)\n         ValueError: planted")
    assert writes == ["  ok     00_journey_overview.ipynb (5.2 s)\n         ValueError: planted\n"]


def test_health_panel_lists_recorded_inputs_and_checks_with_their_status():
    import datetime as dt

    health = {"inputs": [{"table": "events", "source": "sample/<b>events</b>.parquet", "rows": 56460,
                          "sha256": "6b2f871c455225db", "validation": "reused", "duplicates_dropped": 3,
                          "future_rows": 0}],
              "checks": [{"name": "events: validated", "passed": True, "status": "pass", "detail": "checked now"},
                         {"name": "SRM: e1", "passed": False, "status": "warn", "detail": "p < 0.001"},
                         {"name": "old file", "passed": False, "detail": ""}]}
    html = html_pages.health_panel("00_x", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), 1.0, {}, health, None)
    assert ("<tr><td>events</td><td>sample/&lt;b&gt;events&lt;/b&gt;.parquet</td><td>56,460</td>"
            "<td><code>6b2f871c455225db</code></td><td>identical bytes passed before; 3 duplicate rows dropped</td></tr>"
            ) in html
    assert "PASS: events: validated" in html and "WARN: SRM: e1" in html and "FAIL: old file" in html
    assert "Checks (1 passed, 1 warnings, 1 failed)" in html and "(ok, with failed checks)" in html


def test_a_notebook_that_records_its_data_shows_the_inputs_in_the_panel(tmp_path):
    import nbformat

    data = tmp_path / "data"
    data.mkdir()
    (data / "events.csv").write_text("customer_id,ts,event\na,2024-01-01,visit\na,2024-01-01,visit\nb,2024-01-02,buy\n")
    (data / "customers.csv").write_text("customer_id,segment\na,x\nb,y\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(f"data_dir: str = {str(data)!r}  # folder")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import warnings\nimport journeylib as jl\nwarnings.simplefilter('ignore')\n"
        "data = jl.load_dataset(data_dir)\njl.record(data)")]
    path = tmp_path / "records.ipynb"
    nbformat.write(nb, path)
    res = report.run_notebook(path, {}, tmp_path / "out")
    assert res.ok, res.error
    html = res.html.read_text()
    # the source is named relative to the data folder: no absolute path anywhere in a report
    assert "<tr><td>events</td><td>events.csv</td><td>2</td>" in html
    assert str(tmp_path) not in html and str(tmp_path.resolve()) not in html
    assert "<td>customers</td>" in html and "1 duplicate rows dropped" in html
    assert "PASS: events: duplicate rows — dropped 1 exact duplicates" in html
    assert "PASS: customers: validated" in html and "Checks (3 passed, 0 warnings, 0 failed)" in html
