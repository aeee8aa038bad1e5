"""Every notebook in notebooks/: committed clean, parameters parseable, runs on small data."""
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from journeylib.report import runner as report
from journeylib.core.locations import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Labels from data that would run as code if a report forgot to escape them.
XSS_IMG = """<img src=x onerror="document.body.setAttribute('data-xss','img')">"""
XSS_SCRIPT = """<script>document.body.setAttribute('data-xss','script')</script>"""
HOSTILE = {"channel": {"email": XSS_IMG, "social": "sociål «médias» 📣 " + "x" * 80},
           "segment": {"premium": XSS_SCRIPT},
           "variant": {"video_a": XSS_IMG}}


SHOP = Path(__file__).parents[1] / "fixtures" / "journeys" / "shop" / "journey.yml"
# the journey definition of simulated data written by SimulatedData.write (what data/sample/journey.yml says)
SIMULATED_JOURNEY = """version: 1
name: Small simulated shop
sources:
  events: {path: events.parquet}
  customers: {path: customers.parquet}
  assignments: {path: assignments.parquet}
stages:
  order: [awareness, consideration, cart, purchase, repeat, advocacy]
  column: stage
events: {purchase: purchase, revenue: revenue, cart: add_to_cart, review: review}
touchpoints: {column: channel}
segments: [segment, acquisition_channel]
"""


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory, small_sim):
    """The small simulated data with channel/segment/variant names that are HTML/JS payloads, and its journey.yml."""
    import journeylib as jl

    ev = small_sim.events.replace({"channel": HOSTILE["channel"]})
    cu = small_sim.customers.replace({"segment": HOSTILE["segment"], "acquisition_channel": HOSTILE["channel"]})
    asg = small_sim.assignments.replace({"variant": HOSTILE["variant"]})
    costs = small_sim.costs.replace({"channel": HOSTILE["channel"]}) if small_sim.costs is not None else None
    folder = jl.SimulatedData(ev, cu, asg, small_sim.ground_truth, feedback=small_sim.feedback,
                              messages=small_sim.messages, costs=costs).write(tmp_path_factory.mktemp("hostile"))
    extra = "".join(f"  {t}: {{path: {t}.parquet}}\n" for t in ("feedback", "messages", "costs")
                    if getattr(small_sim, t) is not None)
    (Path(folder) / "journey.yml").write_text(SIMULATED_JOURNEY.replace(
        "  assignments: {path: assignments.parquet}\n", "  assignments: {path: assignments.parquet}\n" + extra))
    return folder
IDS = [nb.stem for nb in NOTEBOOKS]


def test_there_are_notebooks():
    assert [nb.stem[:2] for nb in NOTEBOOKS][:1] == ["00"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_parameters_cell_and_every_line_parses(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = [ln.split(":")[0].split("=")[0].strip() for ln in tagged[0].source.splitlines()
                if re.match(r"^\w+\s*[:=]", ln)]
    declared = report.notebook_parameters(path)
    assert sorted(declared) == sorted(assigned), "papermill could not parse some lines ('=' in a help comment?)"
    assert declared["journey"] == {"default": "sample", "type": "str", "help": "journey definition file (journey.yml); "
                                   "sample means the bundled simulated data"}
    assert "data_dir" not in declared
    # the definition holds columns, touchpoints and event names: no notebook asks for them again
    assert not {"touch_col", "conversion_event", "purchase_event", "columns"} & set(declared)
    if "stages" in declared:
        assert declared["stages"]["default"] == [] and declared["stages"]["type"] == "list"
    if "segment_by" in declared:
        assert declared["segment_by"]["default"] == "" and "first segment" in declared["segment_by"]["help"]
    assert all(p["help"] for p in declared.values()), "every parameter needs a # help comment"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_text_quotes_a_parameter_name(path):
    """A shared report speaks of "the most recent 90 days", not of `period_days`."""
    nb = nbformat.read(path, as_version=4)
    names = set(report.notebook_parameters(path))
    quoted = {m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"`([^`]+)`", c.source)}
    assert not quoted & names, f"{path.name}: markdown quotes the parameter(s) {sorted(quoted & names)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_on_small_hostile_data_and_renders_safe_html(path, hostile_dir, tmp_path):
    """Runs on small data whose labels are HTML/JS payloads; the HTML must show them as text."""
    res = report.run_notebook(path, {"journey": str(Path(hostile_dir) / "journey.yml")}, tmp_path,
                              new_run_folder=False)
    assert res.ok, res.error
    html = res.html.read_text()
    nb = nbformat.read(path, as_version=4)
    headings = [ln.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                for ln in c.source.splitlines() if ln.startswith("#")]
    for h in headings:
        assert h.replace("&", "&amp;") in html or h in html, f"heading {h!r} missing from the HTML"
    executed = nbformat.read(res.ipynb, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    stderr = [o.text for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert not [t for t in stderr if "Error" in t or "Traceback" in t], stderr
    assert html.count("<img") >= 1, "expected at least one figure"
    # the notebook recorded its data: the health panel lists the events it read, with their true row count
    n_events = len(pd.read_parquet(Path(hostile_dir) / "events.parquet"))
    assert f"<tr><td>events</td><td>events.parquet</td><td>{n_events:,}</td>" in html, "events missing from the panel"
    assert str(Path(hostile_dir).resolve()) not in html, "a machine path reached the report"
    assert XSS_IMG not in html and XSS_SCRIPT not in html, "a label from the data reached the HTML unescaped"
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html), "report needs the network"
    if CHROMIUM:
        _check_in_browser(res.html, tmp_path / f"{path.stem}.png")


def _check_in_browser(html_path: Path, screenshot: Path) -> None:
    """Load the report in headless Chromium: no script from data ran, no JavaScript error."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={screenshot.parent / 'chromium-profile'}"]
    url = html_path.resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    body_tag = re.search(r"<body[^>]*>", dom.stdout)
    assert body_tag and "data-xss" not in body_tag.group(0), "a script from the data ran in the report"
    js_errors = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and "Uncaught" in ln]
    assert not js_errors, js_errors
    subprocess.run([CHROMIUM, *flags, f"--screenshot={screenshot}", "--window-size=1200,2400", url],
                   capture_output=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_an_event_log_without_customers_runs_with_the_default_parameters(small_sim, tmp_path):
    """Sections that need customers or assignments say so and are skipped; every notebook succeeds."""
    folder = tmp_path / "events_only"
    folder.mkdir()
    small_sim.events.to_parquet(folder / "events.parquet")
    (folder / "journey.yml").write_text("version: 1\nsources: {events: {path: events.parquet}}\n"
                                        "stages: {order: [awareness, consideration, cart, purchase, repeat, advocacy], "
                                        "column: stage}\n")
    for name in ("02_retention_survival", "03_ab_test", "04_loyalty_cohorts"):
        res = report.run_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", {"journey": str(folder / "journey.yml")},
                                  tmp_path / name, new_run_folder=False)
        assert res.ok, res.error
    html = (tmp_path / "02_retention_survival" / "02_retention_survival.html").read_text()
    assert "the Cox model is skipped" in html
    html = (tmp_path / "03_ab_test" / "03_ab_test.html").read_text()
    assert "No A/B assignments in this data: nothing to read out." in html
    html = (tmp_path / "04_loyalty_cohorts" / "04_loyalty_cohorts.html").read_text()
    assert "so the loyalty programme is not assessed" in html


@pytest.mark.slow
def test_all_notebooks_run_on_a_small_shop_clickstream_with_only_a_journey_file(tmp_path):
    """The shop of issue 21: a dozen event names, no channel column, no customers table, payment_done as the
    order. run-all with --journey and one -p for the notebooks that declare it; every notebook succeeds."""
    import journeylib as jl

    shop = jl.load_journey(SHOP)
    assert shop.customers is None and shop.assignments is None and shop.touch_col is None
    results = report.run_all(NOTEBOOKS_DIR, tmp_path, journey=str(SHOP), parameters={"n_boot": "20"}, jobs=1)
    assert [r.notebook for r in results] == [nb.name for nb in NOTEBOOKS]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert all(r.parameters["journey"] == str(SHOP.resolve()) for r in results)
    declared = [nb.name for nb in NOTEBOOKS if "n_boot" in report.notebook_parameters(nb)]
    assert declared[:2] == ["01_stage_attribution.ipynb", "04_loyalty_cohorts.ipynb"]
    assert [r.parameters.get("n_boot") for r in results] == [20 if r.notebook in declared else None for r in results]
    html = {r.notebook[:2]: r.html.read_text() for r in results}
    ev = shop.events
    buyers = int(ev.filter(ev.event == "purchase").customer_id.nunique().execute())
    n_customers = int(ev.customer_id.nunique().execute())
    assert buyers > 0
    # payment_done is the order event: 00 counts its buyers (it said "purchasers 0 (0.0%)" before the journey file)
    assert f"{buyers:,} ({buyers / n_customers:.1%} of customers)" in html["00"]
    # 01 states plainly that attribution needs touchpoints, and credits nothing (least of all the purchase)
    assert "No touchpoints, so no channel attribution." in html["01"]
    assert "share of conversions (and of value) lost" not in html["01"]
    assert "Conversions credited per 1,000 journeys" not in html["01"]
    assert "No A/B assignments in this data: nothing to read out." in html["03"]
    for r in results:
        assert "<tr><td>events</td><td>events.csv</td>" in html[r.notebook[:2]]
