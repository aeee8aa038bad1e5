"""The run index says per card what changed since the last run (issue 25, "run-all shows on the
index what changed since the previous scheduled run").

Each card carries one line above its headlines: "Since the last run: N of M headline numbers
changed: ..." (each changed headline by its opening words and the change of its number) or "no
headline number changed". Only headlines with the same key in both runs count (same section and
the same sentence with the numbers masked); the same sentence is no change even when the stored
value differs below the sentence's precision.
"""
from __future__ import annotations

import re
from pathlib import Path

from journeylib.report import html as pages
from journeylib.report.runner import RunResult

EMAIL_NOW = {"text": "Email brings 31% of conversions (27% to 35%).", "value": 0.31, "section": "Credit"}
EMAIL_BEFORE = {"text": "Email brings 29% of conversions (25% to 33%).", "value": 0.29, "section": "Credit"}
CLV_NOW = {"text": "An average customer is worth 213.8 over the next 52 weeks.", "value": 213.80000001,
           "section": "Value"}
CLV_BEFORE = {"text": "An average customer is worth 213.8 over the next 52 weeks.", "value": 213.8000002,
              "section": "Value"}
REFERRAL_NOW = {"text": "Referral brings 12 customers per 1,000 (9 to 15).", "value": 12.0, "section": "Referral"}
REFERRAL_BEFORE = {"text": "Referral brings 15 customers per 1,000 (11 to 19).", "value": 15.0, "section": "Referral"}


def result(findings, name="00_overview") -> RunResult:
    return RunResult(f"{name}.ipynb", True, 5.0, Path(f"{name}.html"), Path(f"{name}.ipynb"),
                     title="Journey overview", findings=tuple(findings))


def since_line(page: str) -> list[str]:
    return re.findall(r"<p class='jl-meta jl-since'>(.*?)</p>", page)


def test_the_card_lists_the_changed_headline_numbers():
    page = pages.index_page("run2", [result([EMAIL_NOW, CLV_NOW, REFERRAL_NOW])],
                            {"00_overview.ipynb": {"findings": [REFERRAL_BEFORE, CLV_BEFORE, EMAIL_BEFORE]}})
    assert since_line(page) == [
        "Since the last run: 2 of 3 headline numbers changed: Email brings 31% of conversions… "
        "<span class='jl-change-up'>+2.0 points</span>; Referral brings 12 customers per… "
        "<span class='jl-change-down'>−3</span>."]
    # the line comes right after the status, before the headlines
    assert page.index("jl-since") < page.index("<ul>")
    # the same sentence is no change, whatever the stored value's last digits (no "−0.000000190")
    assert ("An average customer is worth 213.8 over the next 52 weeks.<span class='jl-prev'>Previous run: An "
            "average customer is worth 213.8 over the next 52 weeks. <span class='jl-change-'>(no change)</span>"
            ) in page
    assert "0.0000001" not in page


def test_an_unchanged_run_says_so():
    same = [EMAIL_NOW, CLV_NOW]
    page = pages.index_page("run2", [result(same)], {"00_overview.ipynb": {"findings": [EMAIL_NOW, CLV_BEFORE]}})
    assert since_line(page) == ["Since the last run: no headline number changed."]


def test_only_headlines_with_the_same_key_count():
    # reworded headline in the same place: shown beside the old one, but not counted as a changed number
    reworded = {"text": "Email leads with 31% of conversions.", "value": 0.31, "section": "Credit"}
    moved = {**EMAIL_BEFORE, "section": "Other section"}
    page = pages.index_page("run2", [result([reworded])], {"00_overview.ipynb": {"findings": [EMAIL_BEFORE]}})
    assert "Previous run: Email brings 29%" in page and since_line(page) == []
    page = pages.index_page("run2", [result([EMAIL_NOW])], {"00_overview.ipynb": {"findings": [moved]}})
    assert since_line(page) == []
    # no previous run, or a report new in this run: no line
    assert since_line(pages.index_page("run1", [result([EMAIL_NOW])])) == []
    assert since_line(pages.index_page("run2", [result([EMAIL_NOW], "07_new")],
                                       {"00_overview.ipynb": {"findings": [EMAIL_BEFORE]}})) == []


def test_text_from_data_is_escaped():
    now = {"text": "Segment <b>vip</b> & co buys 31% more (27% to 35%).", "value": 0.31, "section": "S"}
    before = {"text": "Segment <b>vip</b> & co buys 20% more (17% to 23%).", "value": 0.20, "section": "S"}
    page = pages.index_page("run2", [result([now])], {"00_overview.ipynb": {"findings": [before]}})
    assert since_line(page) == ["Since the last run: 1 of 1 headline numbers changed: Segment &lt;b&gt;vip&lt;/b&gt; "
                                "&amp; co buys… <span class='jl-change-up'>+11.0 points</span>."]
    assert "<b>vip" not in page


def test_the_index_rendered_from_the_run_record_shows_the_same_line():
    record = {"run": "run2", "notebooks": [{"notebook": "00_overview.ipynb", "ok": True, "seconds": 5.0,
                                            "html": "00_overview.html", "title": "Journey overview",
                                            "status": "ok", "error": None, "caption": None,
                                            "findings": [EMAIL_NOW], "parameters": {}}]}
    page = pages.index_from_record(record, {"00_overview.ipynb": {"findings": [EMAIL_BEFORE]}})
    assert since_line(page) == ["Since the last run: 1 of 1 headline numbers changed: Email brings 31% of "
                                "conversions… <span class='jl-change-up'>+2.0 points</span>."]
