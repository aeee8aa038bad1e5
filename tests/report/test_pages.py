"""Report pages that decide (issue 23): the first screen, the appendix, key tables, the index,
numbers for people, no absolute paths, only the CSS a page uses."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import display, health
from journeylib.core.result import Finding, Result
from journeylib.report import html as pages
from journeylib.report import notebook as nbmod
from journeylib.report import runner

STARTED = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


# --- numbers for people -------------------------------------------------------------------

def test_number_formats_for_people():
    assert display.format_pvalue(5.01e-08) == "p < 0.001" and display.format_pvalue(0.0326) == "p = 0.033"
    assert display.format_pvalue(0.48, prefix=False) == "0.48" and display.format_pvalue(None) == "p = –"
    assert display.format_percent(0.31234) == "31.2%" and display.format_percent(0.5, digits=0) == "50%"
    assert display.format_percent(float("nan")) == "–"
    assert display.format_count(12345) == "12,345" and display.format_count(1234.6) == "1,235"
    assert display.format_count(float("inf")) == "–"
    assert display.format_interval(0.27, 0.35) == "27.0% to 35.0%"
    assert display.format_interval(1234.0, 1560.4, kind="number") == "1,234 to 1,560"
    assert display.format_interval(0.1, float("inf")) == "10.0% to –"
    with pytest.raises(jl.JourneyParameterError, match="kind='ratio'"):
        display.format_interval(1, 2, kind="ratio")
    # never scientific notation, inf or nan
    for x in (1.5e-9, 2.5e12, -3.2e-7, float("nan"), float("-inf")):
        for text in (display.format_number(x), display.format_value(x), display.format_percent(x)):
            assert not re.search(r"\d[eE][-+]?\d|inf|nan", text), text
    assert display.format_number(2.5e12) == "2,500,000,000,000"
    assert display.format_value(3) == "3" and display.format_value(0.123456) == "0.123"
    assert display.format_value(pd.NA) == "–" and display.format_value("a<b") == "a<b"


def test_statistics_keeps_the_formatters_it_had():
    from journeylib.experiments import statistics as st

    assert st.format_pvalue is display.format_pvalue and st.format_number is display.format_number


# --- what a notebook records ----------------------------------------------------------------

class _Res(Result):
    def __init__(self, *found):
        self._found = found

    @property
    def summary(self):
        return pd.DataFrame()

    @property
    def findings(self):
        return self._found


@pytest.fixture
def clean_health(monkeypatch):
    monkeypatch.delenv(health.ENV_VAR, raising=False)
    health.reset()
    yield
    health.reset()


def test_record_keeps_findings_with_their_section_and_headline(clean_health):
    a = Finding("Email brings 31% of conversions (27% to 35%).", 0.31, 0.27, 0.35, "Keep its budget.")
    b = Finding("Churn is flat.", None)
    with jl.section("Channel attribution"):
        jl.record(_Res(a), headline=True)
    jl.record(_Res(b), None)
    jl.record(_Res(a))  # the same finding again, in another place: listed once per section
    found = health.findings()
    assert found[0] == {"text": a.text, "action": "Keep its budget.", "value": 0.31, "ci_low": 0.27,
                        "ci_high": 0.35, "section": "Channel attribution", "headline": True}
    assert found[1] == {"text": "Churn is flat.", "action": "", "value": None, "ci_low": None, "ci_high": None,
                        "section": "", "headline": False}
    assert [f["section"] for f in found] == ["Channel attribution", "", ""]
    assert health.current_section() == ""
    # the findings box: headline findings first; none marked -> the first recorded
    assert [f["text"] for f in pages.headline_findings({"findings": found})] == [a.text]
    assert pages.headline_findings({"findings": [dict(f, headline=False) for f in found]})[0]["text"] == a.text


def test_a_failed_section_closes_and_findings_after_it_are_outside(clean_health):
    with jl.section("Cox model"):
        raise jl.JourneyFitError("did not converge")
    jl.record(_Res(Finding("After.")))
    assert health.findings()[0]["section"] == ""
    assert health.sections() == [{"name": "Cox model", "status": "failed", "reason": "did not converge"}]


def test_sample_caption_agrees_with_the_files(clean_health):
    from journeylib.core.locations import SAMPLE_DIR

    ev = pd.read_parquet(SAMPLE_DIR / "events.parquet")
    ts = pd.to_datetime(ev["ts"], utc=True)
    expected = {"simulated": True, "period_start": f"{ts.min():%Y-%m-%d}", "period_end": f"{ts.max():%Y-%m-%d}",
                "customers": int(ev["customer_id"].nunique()), "events": len(ev)}
    journey = jl.load_journey("sample")
    dataset = jl.load_dataset("sample")
    assert journey.caption == {"name": "Simulated shop (sample data)", **expected}
    assert dataset.caption == {"name": "sample", **expected}
    jl.record(journey)
    assert health.captions() == [journey.caption]
    text = pages.caption_text(journey.caption)
    assert text == (f"Simulated sample data · {expected['period_start']} to {expected['period_end']} · "
                    f"{expected['customers']:,} customers · {expected['events']:,} events")


# --- key tables --------------------------------------------------------------------------------

def test_show_table_shows_twelve_rows_and_writes_the_full_table(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(nbmod, "_display_html", lambda markup, plain: shown.append(markup))
    monkeypatch.setenv(nbmod.TABLES_ENV_VAR, str(tmp_path / "report_tables"))
    monkeypatch.delenv("JOURNEYLIB_SHOW_IDS", raising=False)
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(48)], "channel": ["<b>email</b>"] * 48,
                       "revenue": [1234567.891 + i for i in range(48)], "share": [1e-9] * 48})
    jl.show_table(df, "Top customers <by> value", formats={"share": display.format_percent})
    (markup,) = shown
    assert markup.count("<tr>") == 13  # header + 12 rows
    assert "Showing 12 of 48 rows. Full table: 48 rows, <a href='report_tables/top_customers_by_value.csv' download>" \
           "CSV</a>." in markup
    assert "&lt;b&gt;email&lt;/b&gt;" in markup and "<b>email</b>" not in markup
    assert "1,234,568" in markup and "0.0%" in markup and not re.search(r"\de-\d", markup)
    assert not re.search(r">c\d+<", markup) and "cust-" in markup  # ids pseudonymised (a pseudonym may end in "c0")
    full = pd.read_csv(tmp_path / "report_tables" / "top_customers_by_value.csv")
    assert len(full) == 48 and full["customer_id"].str.startswith("cust-").all()
    assert full["revenue"].iloc[-1] == pytest.approx(1234567.891 + 47)
    with pytest.raises(jl.JourneyParameterError, match="max_rows=0"):
        jl.show_table(df, "x", max_rows=0)
    # a table at most two rows longer than max_rows is shown whole (report 07 hid one row of 13)
    shown.clear()
    for n, rows in ((14, 14), (15, 12)):
        jl.show_table(df.head(n), f"t{n}")
        assert shown[-1].count("<tr>") == rows + 1 and ("Showing" in shown[-1]) == (rows < n)


def test_a_full_table_from_data_opens_in_a_spreadsheet_as_text(tmp_path, monkeypatch):
    """Channel names such as =HYPERLINK(...) or +cmd|... are data: in the CSV beside the report they start with a
    quote, so Excel shows them instead of running them; numbers, negative ones too, stay numbers."""
    monkeypatch.setattr(nbmod, "_display_html", lambda markup, plain: None)
    monkeypatch.setenv(nbmod.TABLES_ENV_VAR, str(tmp_path / "t"))
    names = ['=HYPERLINK("http://evil.example/f","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "email"]
    jl.show_table(pd.DataFrame({"channel": names, "lift": [-0.5, 0.1, 0.2, -2.0, 1.0]}), "Channels")
    text = (tmp_path / "t" / "channels.csv").read_text().splitlines()
    assert text[1:] == ['"\'=HYPERLINK(""http://evil.example/f"",""click"")",-0.5', "'+cmd|' /C calc'!A0,0.1",
                        "'@SUM(1+1),0.2", "'-2+3,-2.0", "email,1.0"]


def test_show_table_says_which_personal_columns_it_left_out(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(nbmod, "_display_html", lambda markup, plain: shown.append(markup))
    monkeypatch.delenv("JOURNEYLIB_SHOW_IDS", raising=False)
    # a column named after a channel ("email") holds numbers here, yet is personal by its name: it is
    # left out of the page, and the page says so rather than dropping it silently
    df = pd.DataFrame({"month": ["2024-01"], "email": [2.5], "social": [0.4], "phone": ["+1 555"]})
    jl.show_table(df, "Return per month")
    (markup,) = shown
    assert "2.5" not in markup and "+1 555" not in markup and "0.4" in markup
    assert "Left out as personal data: email, phone." in markup
    jl.show_table(pd.DataFrame({"channel": ["email"], "n": [1]}), "Channels")
    assert "Left out" not in shown[-1] and ">email<" in shown[-1]


def test_show_table_outside_a_report_prints_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(nbmod.TABLES_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    jl.show_table(pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="k")), "small")
    assert capsys.readouterr().out.split() == ["k", "a", "x", "1", "y", "2"]
    assert not list(tmp_path.iterdir())


def test_figure_alt_text_comes_from_the_titles():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    a.set_title("Email converts best")
    b.set_xlabel("days since first order")
    b.set_ylabel("share still active (%)")
    fig.suptitle("Channels")
    assert nbmod.figure_alt_text(fig) == "Figure: Channels; Email converts best; share still active (%) by days " \
                                         "since first order"


# --- the page -----------------------------------------------------------------------------------

def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell("# Stage and channel attribution\nWhich channels move customers on."),
             nbformat.v4.new_markdown_cell("## 2. Channel attribution"),
             nbformat.v4.new_code_cell("with jl.section('Credit per channel'):\n    pass"),
             nbformat.v4.new_markdown_cell("## Retention"),
             nbformat.v4.new_code_cell("x = 1")]
    cells[4].outputs = [nbformat.v4.new_output("stream", text="Read /work/secret/shop/events.csv and "
                                                               "/home/ana/x.parquet\n")]
    cells[2].outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                              "text/plain": "<Figure>"},
        metadata={"image/png": {"alt": "Figure: Referral <brings> most"}})]
    nb.cells = cells
    return nb


HEALTH = {
    "checks": [{"name": "events: validated", "status": "pass", "detail": ""},
               {"name": "convergence", "status": "warn", "detail": "slow"},
               {"name": "email_send_time", "status": "fail", "detail": "sample ratio mismatch — do not use its results"}],
    "findings": [{"text": "Referral brings 12 customers per 1,000 reached (9 to 15).", "action": "Move budget to it.",
                  "value": 12.0, "section": "Credit per channel", "headline": True},
                 {"text": "Churn is 4.1% a month (3.8% to 4.4%).", "action": "", "value": 0.041,
                  "section": "Retention", "headline": True},
                 {"text": "Not a headline.", "section": "", "headline": False}],
    "captions": [{"name": "Shop <EU>", "simulated": False, "period_start": "2024-01-01", "period_end": "2025-06-30",
                  "customers": 4000, "events": 56460}],
    "inputs": [{"table": "events", "source": "/work/secret/shop/events.csv", "rows": 56460, "sha256": "ab12",
                "validation": "checked"}],
}
DECLARED = {"journey": {"default": "sample", "type": "str", "help": "journey definition file (journey.yml); sample "
                                                                   "means the bundled simulated data"},
            "conversion_window_days": {"default": 30, "type": "int", "help": ""}}


def _page(**kw) -> str:
    nb = _notebook()
    body = pages.render_notebook(nb, True)
    args = dict(stem="01_x", started=STARTED, seconds=2.0, params={"journey": "/work/secret/shop/journey.yml"},
                health=HEALTH, error=None, declared=DECLARED, bases=("/work/secret/shop",))
    args.update(kw)
    return pages.report_page(body, nb, **args)


def test_the_first_screen_decides():
    page = _page()
    title = "Stage and channel attribution — Shop &lt;EU&gt;, 2024-01-01 to 2025-06-30"
    assert f"<title>{title}</title>" in page
    body = page[page.index("<body"):]
    # heading, then the findings box, then one status line, then the data caption
    h1 = body.index(f"<h1 class='jl-h1' id='jl-top'>{title}</h1>")
    box = body.index("<section class='jl-findings'")
    status = body.index("<p class='jl-status")
    caption = body.index("<p class='jl-caption'>Shop &lt;EU&gt; · 2024-01-01 to 2025-06-30 · 4,000 customers · "
                         "56,460 events</p>")
    assert h1 < box < status < caption < body.index("Which channels move customers on.")
    assert body[h1:box].count("<") == 2  # nothing between the heading and the box
    # findings: headline ones, with their action and a link to the section that shows the evidence
    assert ("<li>Referral brings 12 customers per 1,000 reached (9 to 15). <strong>Move budget to it.</strong> "
            "<a class='jl-evidence' href='#2.-Channel-attribution'>Evidence: Credit per channel</a></li>") in page
    assert "href='#Retention'>Evidence: Retention</a>" in page and "Not a headline." not in page
    assert 'id="2.-Channel-attribution"' in page and 'id="Retention"' in page
    assert ("<span class='jl-status-word warn'>CHECKS FAILED</span> 1 check passed, 1 warning, 1 failed: "
            "email_send_time: sample ratio mismatch — do not use its results.</p>") in page
    # the notebook's own "# Title" is not repeated
    assert page.count("Stage and channel attribution") == 2
    # the health panel is a collapsed appendix at the end, parameters as words
    appendix = page.index("<details class=\"jl-health jl-appendix\"")
    assert appendix > page.index("Read events.csv")
    assert "<details class=\"jl-health jl-appendix\" id=\"jl-appendix\">" in page  # not open
    assert "<td>Journey definition file</td><td>journey.yml (set for this run)</td>" in page
    assert "<td>Conversion window days</td><td>30</td>" in page
    assert "<tr><td>events</td><td>events.csv</td><td>56,460</td>" in page
    # alt text from the figure's titles, escaped
    assert 'alt="Figure: Referral &lt;brings&gt; most"' in page


def test_no_absolute_path_anywhere():
    page = _page()
    assert not re.search(r"/work/|/home/|/tmp/", page)
    assert "Read events.csv and x.parquet" in page
    text = ("see /tmp/pytest-1/out/a.html, C:\\Users\\ana\\shop\\e.csv and ~/data/e.csv; "
            "<img src=\"data:image/png;base64,/9j/work/tmp/AAAA\"> https://example.org/work/x keep</div>")
    scrubbed = pages.scrub_paths(text, ("/tmp/pytest-1/out",))
    assert scrubbed == ("see a.html, e.csv and e.csv; <img src=\"data:image/png;base64,/9j/work/tmp/AAAA\"> "
                        "https://example.org/work/x keep</div>")


def test_a_failed_report_keeps_its_banner_on_top_and_a_partial_one_names_its_sections():
    page = _page(error="01_x.ipynb, cell 4: JourneyDataError: no events in /work/secret/shop/events.csv")
    body = page[page.index("<body"):]
    assert body.index("<div class='jl-banner'><strong>This report failed.</strong>") < body.index("<h1 class='jl-h1'")
    assert "no events in events.csv" in page and "/work/" not in page
    assert "<span class='jl-status-word fail'>FAILED</span>" in page
    partial = dict(HEALTH, sections=[{"name": "CLV model", "status": "failed", "reason": "3 repeat buyers"}])
    page = _page(health=partial)
    assert "<span class='jl-status-word warn'>PARTIAL</span>" in page
    assert "Not computed: CLV model (3 repeat buyers).</p>" in page


def test_contents_only_for_long_pages():
    heads = [(2, f"s{i}", f"Section {i}") for i in range(5)]
    short = "<p>x</p>"
    long = "<img src='a'>" * 6
    assert pages.table_of_contents(heads, short) == ""
    toc = pages.table_of_contents(heads + [(3, "sub", "Sub <b>")], long)
    assert toc.startswith("<nav class='jl-toc'>") and "<a href='#s4'>Section 4</a>" in toc
    assert "<li class='jl-toc-3'><a href='#sub'>Sub &lt;b&gt;</a></li>" in toc


def test_css_is_pruned_to_what_the_page_uses():
    page = ("<html><head><style>:root{--used:1px;--unused:url(data:image/svg+xml;base64,AAA);--chain:var(--used)}"
            ".a .b{color:red}.zzz{color:blue}.a:not(.nope){x:1}@media print{.zzz{y:1}.a{y:2}}"
            "div.a, .missing{z:1}@font-face{font-family:f}</style></head>"
            "<body class='a'><p class=\"b c\" style=\"margin:var(--chain)\">x</p></body></html>")
    out = pages.prune_css(page)
    css = re.search(r"<style>(.*)</style>", out, re.S).group(1)
    assert ".a .b{color:red}" in css and ".a:not(.nope){x:1}" in css and "@media print{.a{y:2}}" in css
    assert "div.a{z:1}" in css and "@font-face{font-family:f}" in css
    assert ".zzz" not in css and "--unused" not in css and "--used:1px" in css and "--chain:var(--used)" in css


def test_index_cards_show_status_headlines_and_the_previous_run(tmp_path):
    def res(name, status, found, **kw):
        return runner.RunResult(f"{name}.ipynb", status not in ("failed", "cancelled"), 12.3, tmp_path / f"{name}.html",
                                tmp_path / f"{name}.ipynb", {}, kw.get("error"), status, kw.get("notes", ()),
                                kw.get("title", name), tuple(found), HEALTH["captions"][0])

    now = [{"text": "Email brings 31% of conversions (27% to 35%).", "value": 0.31, "section": "A"},
           {"text": "Referral brings 12 customers per 1,000 (9 to 15).", "value": 12.0, "section": "B"}]
    before = [{"text": "Referral brings 10 customers per 1,000 (8 to 13).", "value": 10.0, "section": "B"},
              {"text": "Email brings 29% of conversions (25% to 33%).", "value": 0.29, "section": "A"}]
    results = [res("00", "ok", now, title="Journey overview"),
               res("03", "ok, with failed checks", [], notes=("email_send_time",)),
               res("04", "failed", [], error="boom")]
    page = pages.index_page("run1", results, {"00.ipynb": {"findings": before}})
    assert "<h3><a href='00.html'>Journey overview</a></h3>" in page
    assert ("<li>Email brings 31% of conversions (27% to 35%).<span class='jl-prev'>Previous run: Email brings 29% "
            "of conversions (25% to 33%). <span class='jl-change-up'>(+2.0 points)</span></span></li>") in page
    assert "Previous run: Referral brings 10 customers per 1,000 (8 to 13). <span class='jl-change-up'>(+2)" in page
    assert ("<article class='jl-card warn'><h3><a href='03.html'>03</a></h3><p><span class='jl-status-word warn'>"
            "CHECKS FAILED</span> failed checks: email_send_time</p>") in page
    assert "<article class='jl-card fail'>" in page and "FAILED</span> boom" in page
    assert "Shop &lt;EU&gt; · 2024-01-01 to 2025-06-30 · 4,000 customers · 56,460 events · run time 12.3 s" in page
    assert "2 of 3 ran to the end (checks failed: 1, failed: 1)." in page


# --- end to end: a notebook under the runner ----------------------------------------------------

CODE = '''import pandas as pd
import journeylib as jl
from journeylib.core.result import Finding, Result

jl.setup_notebook()
import warnings
from journeylib.core.errors import JourneyDataWarning
warnings.warn("Shop <EU> left *3* rows out", JourneyDataWarning)

class R(Result):
    def __init__(self, text, value):
        self.f = (Finding(text, value, value - 0.02, value + 0.02, "Do it."),)
    @property
    def summary(self):
        return pd.DataFrame()
    @property
    def findings(self):
        return self.f

with jl.section("Credit per channel"):
    jl.record(R(f"Email brings {share:.0%} of conversions ({share - 0.02:.0%} to {share + 0.02:.0%}).", share),
              headline=True)
    jl.show_table(pd.DataFrame({"customer_id": range(30), "n": range(30)}), "Per customer")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_title("Email leads")
    plt.show()
'''


def _tiny(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("share: float = 0.31  # share of conversions")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny report"), params,
                nbformat.v4.new_markdown_cell("## Credit per channel"), nbformat.v4.new_code_cell(CODE)]
    path = tmp_path / "nbs" / "tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def test_a_report_run_records_findings_tables_and_compares_with_the_last_run(tmp_path):
    nb = _tiny(tmp_path)
    out = tmp_path / "out"
    first = runner.run_notebook(nb, {}, out)
    assert first.ok, first.error
    assert first.title == "Tiny report" and first.findings[0]["text"] == "Email brings 31% of conversions (29% to 33%)."
    page = first.html.read_text()
    assert "<title>Tiny report</title>" in page
    assert ("<li>Email brings 31% of conversions (29% to 33%). <strong>Do it.</strong> <a class='jl-evidence' "
            "href='#Credit-per-channel'>Evidence: Credit per channel</a></li>") in page
    assert ('Showing 12 of 30 rows. Full table: 30 rows, <a download="" href="tiny_tables/per_customer.csv">CSV</a>'
            in page)
    csv = pd.read_csv(first.html.parent / "tiny_tables" / "per_customer.csv")
    assert len(csv) == 30 and csv["customer_id"].str.startswith("cust-").all()
    assert str(tmp_path) not in page
    # a data warning is a note in the text, its names escaped: not a monospace stream line
    assert "<strong>Note:</strong> Shop &lt;EU&gt; left *3* rows out" in page and "Warning: Shop" not in page
    assert page.count('<img alt="Figure: Email leads"') == 1  # alt text from the figure's title
    second = runner.run_notebook(nb, {"share": 0.35}, out)
    index = (second.html.parent / "index.html").read_text()
    assert ("Email brings 35% of conversions (33% to 37%).<span class='jl-prev'>Previous run: Email brings 31% of "
            "conversions (29% to 33%). <span class='jl-change-up'>(+4.0 points)</span>") in index
    entry = json.loads((second.html.parent / "index.json").read_text())[0]
    assert entry["title"] == "Tiny report" and entry["findings"][0]["value"] == pytest.approx(0.35)
    # the longest step: papermill's cell durations, named by the heading above the cell
    executed = nbformat.read(second.ipynb, as_version=4)
    durations = [(c.metadata["papermill"]["duration"], i) for i, c in enumerate(executed.cells)
                 if c.cell_type == "code"]
    longest = executed.cells[max(durations)[1]]
    assert second.slowest["seconds"] == pytest.approx(max(durations)[0], abs=0.01)
    above = [c for c in executed.cells[:executed.cells.index(longest)] if c.cell_type == "markdown"]
    heading = next((l.lstrip("#").strip() for c in reversed(above) for l in c.source.splitlines()
                    if l.startswith("##")), "set-up")
    assert second.slowest["step"] == heading
    record = json.loads((second.html.parent / "run.json").read_text())
    assert record["notebooks"][0]["slowest"] == second.slowest
    assert f"longest step: {heading}, {second.slowest['seconds']:.1f} s" in index


def test_a_relative_output_folder_is_not_scrubbed_out_of_prose():
    """Only absolute folders are taken out of a page: "reports" the word stays when the output folder is reports/."""
    from journeylib.report.html import scrub_paths

    text = "journeylib reports, written to /srv/runs/reports/a.html"
    assert scrub_paths(text, ("reports", "/srv/runs/reports")) == "journeylib reports, written to a.html"


def test_outside_a_notebook_a_data_warning_is_one_plain_line(capsys):
    import warnings

    from journeylib.core.errors import JourneyDataWarning
    from journeylib.report.notebook import setup_notebook

    before = warnings.showwarning
    try:
        setup_notebook()
        warnings.warn("3 rows\n  left out", JourneyDataWarning)
    finally:
        warnings.showwarning = before
    assert capsys.readouterr().out == "Warning: 3 rows left out\n"
