"""Scheduled runs operators can trust (issue 28): the run record (run.json) and its schema,
retries of transient failures only, notifications, retention, engine output kept out of reports."""
import datetime as dt
import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path

import nbformat
import pytest

from journeylib.core.errors import JourneyParameterError
from journeylib.core.locations import SAMPLE_DIR
from journeylib.report import cli, runner

FIX = Path(__file__).parents[1] / "fixtures"
OK = FIX / "ok.ipynb"

# one notebook that, on its first try, either kills its own kernel (fail="die"), raises a
# journeylib data error (fail="data") or runs to its end; every try appends to counter_file.
# It records a planted input (table, rows, content hash) and a failed check, and declares the
# bundled journey, so its run record has something to fingerprint.
PLANTED_ROWS, PLANTED_HASH = 1234, "0123456789abcdef"
FLAKY_CODE = f"""import os, pathlib
from types import SimpleNamespace
from journeylib.core import health
from journeylib.core.result import Check
pathlib.Path(counter_file).open("a").write("try\\n")
if fail == "die" and not pathlib.Path(marker_file).exists():
    pathlib.Path(marker_file).write_text("died once")
    os._exit(1)  # the kernel dies: a transient failure
if fail == "data":
    from journeylib.core.errors import JourneyDataError
    raise JourneyDataError("column 'revenue': 3 rows are negative; expected amounts of 0 or more")
health.record(SimpleNamespace(
    inputs=({{"table": "events", "source": "sample/events.parquet", "rows": {PLANTED_ROWS}, "sha256": "{PLANTED_HASH}"}},),
    checks=(Check("planted failed check", "fail", "a planted failure"), Check("planted passed check", "pass", ""))))
print("ran to the end")"""


def write_flaky(folder: Path, name: str = "flaky") -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('marker_file: str = ""  # created by the first try\n'
                                       'counter_file: str = ""  # one line per try\n'
                                       'fail: str = "die"  # die, data or none\n'
                                       'journey: str = "sample"  # journey definition')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Flaky {name}"), params, nbformat.v4.new_code_cell(FLAKY_CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def tries_of(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


# --- retries ----------------------------------------------------------------------

def test_kernel_that_dies_once_is_retried_and_succeeds(tmp_path):
    nb = write_flaky(tmp_path / "nbs")
    counter, marker = tmp_path / "counter", tmp_path / "marker"
    res = runner.run_notebook(nb, {"marker_file": str(marker), "counter_file": str(counter), "fail": "die"},
                              tmp_path / "out", retries=1)
    assert res.ok, res.error
    assert res.tries == 2 and tries_of(counter) == 2 and marker.exists()
    assert "ran to the end" in res.ipynb.read_text()
    record = json.loads((res.html.parent / "run.json").read_text())
    assert record["notebooks"][0]["tries"] == 2 and record["status"] == "ok"
    assert "2 tries" in (res.html.parent / "index.html").read_text()
    log = (res.html.parent / "engine.log").read_text()
    assert "flaky.ipynb: try 1 failed" in log and "try 2 started" in log


def test_kernel_death_without_retries_fails_once(tmp_path):
    nb = write_flaky(tmp_path / "nbs")
    counter = tmp_path / "counter"
    res = runner.run_notebook(nb, {"marker_file": str(tmp_path / "m"), "counter_file": str(counter)},
                              tmp_path / "out")
    assert not res.ok and res.tries == 1 and tries_of(counter) == 1
    assert "DeadKernelError" in res.error


def test_data_error_is_never_retried(tmp_path):
    nb = write_flaky(tmp_path / "nbs")
    counter = tmp_path / "counter"
    res = runner.run_notebook(nb, {"marker_file": str(tmp_path / "m"), "counter_file": str(counter),
                                   "fail": "data"}, tmp_path / "out", retries=3)
    assert not res.ok and res.tries == 1 and tries_of(counter) == 1
    assert "JourneyDataError: column 'revenue': 3 rows are negative" in res.error


@pytest.mark.parametrize("ename, evalue, expected", [
    ("DeadKernelError", "Kernel died", True),
    ("CellTimeoutError", "A cell timed out while it was being executed, after 2 seconds.", True),
    ("Py4JNetworkError", "Answer from Java side is empty", True),
    ("ConnectionResetError", "[Errno 104] Connection reset by peer", True),
    ("RuntimeError", "Kernel died before replying to kernel_info", True),
    ("JourneyDataError", "column 'x': connection lost while reading", False),
    ("JourneyParameterError", "engine='sprak' is not an engine journeylib knows", False),
    ("JourneyFitError", "Kernel died", False),
    ("ValueError", "planted failure", False),
    ("KeyError", "'revenue'", False),
])
def test_only_transient_errors_are_retried(ename, evalue, expected):
    assert runner.is_transient(ename, evalue) is expected


@pytest.mark.parametrize("value", [-1, True, 1.5, "2"])
def test_retries_must_be_a_whole_number_of_extra_tries(value):
    with pytest.raises(JourneyParameterError, match="--retries"):
        runner.check_retries(value)


# --- the run record --------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One run-all over three notebooks: one dies once (retried), one raises a data error, one is ok."""
    tmp = tmp_path_factory.mktemp("batch")
    nbs = tmp / "nbs"
    write_flaky(nbs, "flaky")
    write_flaky(nbs, "bad_data")
    (nbs / "ok.ipynb").write_bytes(OK.read_bytes())
    params = tmp / "params"
    params.mkdir()
    (params / "flaky.yaml").write_text(f"marker_file: {tmp / 'marker'}\ncounter_file: {tmp / 'c_flaky'}\n")
    (params / "bad_data.yaml").write_text(f"marker_file: {tmp / 'm2'}\ncounter_file: {tmp / 'c_bad'}\n"
                                          "fail: data\n")
    hook = tmp / "hook.py"
    hook.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('\\n'.join(sys.argv[2:]))\n")
    got = tmp / "hook received"  # a space: the path must arrive as one argument
    out = tmp / "reports"
    code = cli.main(["run-all", "--notebooks-dir", str(nbs), "--params-dir", str(params), "--output-dir", str(out),
                     "--jobs", "1", "--retries", "2",
                     "--on-failure", f"{sys.executable} {hook} '{got}'",
                     "--on-success", f"{sys.executable} {hook} {tmp / 'success'}"])
    run = Path(os.path.realpath(out / "latest"))
    return {"tmp": tmp, "code": code, "run": run, "out": out, "got": got,
            "record": json.loads((run / "run.json").read_text())}


def test_run_record_is_valid_against_its_schema(batch):
    record = batch["record"]
    assert runner.validate_run_record(record) == []
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(runner.RUN_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(record, schema)


def test_schema_check_without_jsonschema_finds_what_jsonschema_finds(batch, monkeypatch):
    schema = json.loads(runner.RUN_SCHEMA.read_text())
    broken = json.loads(json.dumps(batch["record"]))
    broken["status"] = "fine"
    del broken["notebooks"][0]["tries"]
    broken["notebooks"][1]["inputs"] = [{"table": "events", "source": "x", "rows": -1, "sha256": "ab"}]
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "jsonschema", None)  # not installed: the standard-library check
        assert runner.validate_run_record(batch["record"]) == []
        problems = runner.validate_run_record(broken)
    assert any("'fine' is not one of" in p for p in problems)
    assert any("'tries' is a required property" in p for p in problems)
    assert any("-1 is less than the minimum of 0" in p for p in problems)
    assert len(problems) == 3
    jsonschema = pytest.importorskip("jsonschema")
    assert len(list(jsonschema.Draft202012Validator(schema).iter_errors(broken))) == 3


def test_run_record_holds_what_an_operator_needs(batch):
    record, tmp = batch["record"], batch["tmp"]
    assert batch["code"] == 1 and record["status"] == "failed" and record["run"] == batch["run"].name
    assert record["options"] == {"jobs": 1, "timeout": None, "retries": 2, "no_input": True}
    by = {e["notebook"]: e for e in record["notebooks"]}
    assert list(by) == ["bad_data.ipynb", "flaky.ipynb", "ok.ipynb"]
    flaky, bad, ok = by["flaky.ipynb"], by["bad_data.ipynb"], by["ok.ipynb"]
    # retried after the kernel died, ran to its end on the second try; the data error ran once
    assert (flaky["ok"], flaky["tries"], tries_of(tmp / "c_flaky")) == (True, 2, 2)
    assert (bad["ok"], bad["tries"], tries_of(tmp / "c_bad")) == (False, 1, 1)
    assert "JourneyDataError: column 'revenue'" in bad["error"]
    # the journey definition's hash, the inputs' fingerprints and row counts, the failed checks
    sample = hashlib.sha256((SAMPLE_DIR / "journey.yml").read_bytes()).hexdigest()
    assert flaky["journey"] == {"source": "sample", "sha256": sample} and ok["journey"] is None
    assert flaky["inputs"] == [{"table": "events", "source": "sample/events.parquet", "rows": PLANTED_ROWS,
                                "sha256": PLANTED_HASH}]
    assert flaky["failed_checks"] == [{"name": "planted failed check", "detail": "a planted failure"}]
    assert flaky["status"] == "ok, with failed checks" and flaky["notes"] == ["planted failed check"]
    assert ok["failed_checks"] == [] and ok["status"] == "ok"  # its check passes with the default rows=3
    assert flaky["parameters"]["counter_file"] == str(tmp / "c_flaky")
    # versions, kit, times
    assert record["libraries"]["pandas"] == __import__("pandas").__version__
    assert record["kit"]["version"] == runner.library_versions()["journeylib"]
    commit = record["kit"]["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    started, finished = (dt.datetime.strptime(record[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("started", "finished"))
    assert started <= finished and record["seconds"] >= sum(e["seconds"] for e in record["notebooks"]) * 0.99


def test_index_figures_match_the_run_record(batch):
    record, run = batch["record"], batch["run"]
    page = (run / "index.html").read_text()
    cards = re.findall(r"<article class='jl-card[^']*'>(.*?)</article>", page, re.S)
    assert len(cards) == len(record["notebooks"])
    labels = {"ok": "OK", "ok, with failed checks": "CHECKS FAILED", "failed": "FAILED"}
    for card, entry in zip(cards, record["notebooks"]):
        assert f"href='{entry['html']}'" in card
        assert f">{labels[entry['status']]}</span>" in card
        assert f"run time {entry['seconds']:.1f} s" in card
        assert ("2 tries" in card) is (entry["tries"] == 2)
    ran = sum(e["ok"] for e in record["notebooks"])
    assert f"{ran} of {len(record['notebooks'])} ran to the end" in page
    # index.json says the same as the record
    index = json.loads((run / "index.json").read_text())
    assert [(e["notebook"], e["status"], e["seconds"], e["tries"]) for e in index] == [
        (e["notebook"], e["status"], e["seconds"], e["tries"]) for e in record["notebooks"]]


def test_on_failure_receives_the_record_path_as_one_argument(batch):
    got, run = batch["got"], batch["run"]
    assert got.read_text() == str(run / "run.json")  # one argument, spaces in the hook's own path survived
    assert not (batch["tmp"] / "success").exists()  # a failed run does not call --on-success
    assert json.loads(Path(got.read_text()).read_text())["status"] == "failed"


def test_runs_lists_past_runs_with_status_and_changes(batch, capsys):
    assert cli.main(["runs", "--output-dir", str(batch["out"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{batch['run'].name}  FAILED    2 of 3 notebooks ran to the end")
    assert "1 retry" in out and "(latest)" in out
    assert "    bad_data.ipynb: failed: cell 3 (import os, pathlib): JourneyDataError: column 'revenue'" in out


def test_runs_limit(batch, capsys):
    assert cli.main(["runs", "--output-dir", str(batch["out"]), "--limit", "0"]) == 2
    assert "--limit 0: expected a whole number of runs to show, at least 1" in capsys.readouterr().err


def test_runs_shows_headline_changes_since_the_previous_run(tmp_path):
    def write(name, status, value):
        folder = tmp_path / name
        folder.mkdir()
        entry = {"notebook": "02.ipynb", "ok": status != "failed", "status": status, "seconds": 3.0, "tries": 1,
                 "error": "ValueError: boom" if status == "failed" else None,
                 "findings": [{"text": f"Retention at 30 days is {value:.0%}", "value": value, "section": "S"}]}
        (folder / "run.json").write_text(json.dumps({"run": name, "status": "ok" if entry["ok"] else "failed",
                                                     "seconds": 3.0, "notebooks": [entry]}))

    write("20260101T000000Z", "ok", 0.40)
    write("20260102T000000Z", "ok", 0.43)
    write("20260103T000000Z", "failed", 0.43)
    lines = runner.runs_text(tmp_path).splitlines()
    assert lines[0].startswith("20260103T000000Z  FAILED")
    assert lines[1] == "    02.ipynb: failed (was ok): ValueError: boom"
    assert lines[2].startswith("20260102T000000Z  OK")
    assert lines[3] == "    02.ipynb: Retention at 30 days is 43% (+3.0 points)"
    assert lines[4].startswith("20260101T000000Z  OK") and len(lines) == 5
    assert runner.runs_text(tmp_path / "none") == f"no runs in {tmp_path / 'none'}"


# --- notifications ----------------------------------------------------------------------

def test_on_success_gets_the_path_and_no_shell_runs(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "ok.ipynb").write_bytes(OK.read_bytes())
    hook = tmp_path / "hook.py"
    hook.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text(repr(sys.argv[2:]))\n")
    got, pwned = tmp_path / "got", tmp_path / "pwned"
    command = f"{sys.executable} {hook} {got} ';' touch {pwned}"  # shell syntax stays text
    results = runner.run_all(nbs, tmp_path / "out", jobs=1, on_success=command, on_failure="false")
    assert all(r.ok for r in results)
    run = Path(os.path.realpath(tmp_path / "out" / "latest"))
    assert got.read_text() == repr([";", "touch", str(pwned), str(run / "run.json")])
    assert not pwned.exists()


@pytest.mark.parametrize("command, expected", [
    ("", "expected a program"),
    ("'unclosed", "cannot be split"),
    ("no-such-program-jl28 --flag", "program 'no-such-program-jl28' not found"),
])
def test_bad_notification_command_is_refused_before_running(tmp_path, capsys, command, expected):
    code = cli.main(["run-all", "--notebooks-dir", str(FIX), "--output-dir", str(tmp_path / "o"),
                     "--on-failure", command])
    assert code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_failing_notification_command_is_reported(tmp_path, capsys):
    record = tmp_path / "run.json"
    record.write_text("{}")
    script = tmp_path / "fails.sh"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert runner.notify(str(script), record, "--on-failure") == 3
    assert "--on-failure command exited with code 3" in capsys.readouterr().out


# --- retention --------------------------------------------------------------------------

def fake_run(root: Path, name: str, status: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run": name, "status": status, "seconds": 1.0, "notebooks": []}))
    return folder


def test_keep_n_never_removes_the_latest_successful_run(tmp_path):
    old_ok = fake_run(tmp_path, "20260101T000000Z", "ok")
    ok = fake_run(tmp_path, "20260102T000000Z", "ok")
    failed = [fake_run(tmp_path, f"2026010{d}T000000Z", "failed") for d in (3, 4)]
    other = tmp_path / "notes"  # not a run folder: never touched
    other.mkdir()
    removed = runner.prune_runs(tmp_path, 1)
    assert removed == [old_ok, failed[0]]
    assert ok.exists() and failed[1].exists() and other.exists()


def test_keep_days_removes_only_older_runs(tmp_path):
    now = dt.datetime(2026, 3, 31, 12, tzinfo=dt.timezone.utc)
    old = fake_run(tmp_path, "20260101T000000Z", "ok")
    latest_ok = fake_run(tmp_path, "20260201T000000Z", "ok")  # old, but the latest successful
    failed_old = fake_run(tmp_path, "20260202T000000Z", "failed")
    recent = fake_run(tmp_path, "20260330T000000Z-1", "failed")
    assert runner.prune_runs(tmp_path, "30d", now=now) == [old, failed_old]
    assert latest_ok.exists() and recent.exists()


def test_keep_after_a_successful_run_and_not_after_a_failed_one(tmp_path, capsys):
    out = tmp_path / "out"
    old = [fake_run(out, f"2020010{d}T000000Z", "ok") for d in (1, 2)]
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "raises.ipynb").write_bytes((FIX / "raises.ipynb").read_bytes())
    assert cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out), "--keep", "1"]) == 1
    assert all(f.exists() for f in old)  # a failed run removes nothing
    (nbs / "raises.ipynb").unlink()
    (nbs / "ok.ipynb").write_bytes(OK.read_bytes())
    assert cli.main(["run-all", "--notebooks-dir", str(nbs), "--output-dir", str(out), "--keep", "1"]) == 0
    left = runner.run_folders(out)
    assert left == [Path(os.path.realpath(out / "latest"))]
    assert "removed 3 older run folder(s)" in capsys.readouterr().out


@pytest.mark.parametrize("value, expected", [("10", ("runs", 10)), (3, ("runs", 3)), ("30d", ("days", 30)),
                                             ("7 days", ("days", 7))])
def test_keep_values(value, expected):
    assert runner.parse_keep(value) == expected


@pytest.mark.parametrize("value", ["0", "-1", "30x", "", "d", True])
def test_bad_keep_values_are_refused(value):
    with pytest.raises(JourneyParameterError, match="--keep"):
        runner.parse_keep(value)


# --- engine output ------------------------------------------------------------------------

def test_output_below_python_goes_to_the_engine_log_not_the_report(tmp_path):
    """What a JVM or a C library writes to file descriptors 1 and 2 (here: a child process and
    os.write) lands in engine.log; print() still reaches the report."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Noisy engine"), nbformat.v4.new_code_cell(
        "import os, subprocess, sys\n"
        "os.write(2, b'WARN NativeCodeLoader: planted engine warning\\n')\n"
        "subprocess.run([sys.executable, '-c', 'import sys; sys.stderr.write(\"[Stage 0:>   (0 + 1) / 1]\\\\n\")'])\n"
        "print('the analysis says 42')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k:02d}"
    path = tmp_path / "noisy.ipynb"
    nbformat.write(nb, path)
    res = runner.run_notebook(path, {}, tmp_path / "out")
    assert res.ok, res.error
    page = res.html.read_text()
    assert "the analysis says 42" in page
    assert "WARN " not in page and "[Stage " not in page
    log = (res.html.parent / "engine.log").read_text()
    assert "WARN NativeCodeLoader: planted engine warning" in log and "[Stage 0:>" in log
