"""Report tables: numbers formatted for a reader, strings from data escaped."""
import re

import pandas as pd

from journeylib.core.display import html_table, styled


def test_html_table_formats_counts_shares_and_missing_values_and_escapes_text():
    df = pd.DataFrame({"channel": ["<script>x</script>", "email"], "customers": [12345, 7],
                       "share": [0.6691, float("nan")], "mean": [1.23456, 2.0],
                       "n": pd.array([1000, None], dtype="Int64"), "flag": [True, False]})
    before = df.copy()
    out = html_table(df, "{:.2f}", formats={"share": "{:.1%}"})
    assert "&lt;script&gt;" in out and "<script>" not in out
    assert "<td style=\"white-space: nowrap\">12,345</td>" in out and "<td style=\"white-space: nowrap\">7</td>" in out
    assert "<td style=\"white-space: nowrap\">66.9%</td>" in out and "<td style=\"white-space: nowrap\">1.23</td>" in out and "<td style=\"white-space: nowrap\">2.00</td>" in out
    assert "<td style=\"white-space: nowrap\">1,000</td>" in out and out.count("<td style=\"white-space: nowrap\">–</td>") == 2  # NaN share and NA count
    assert "<td style=\"white-space: nowrap\">yes</td>" in out  # booleans are yes/no, not counts
    with_intervals = html_table(pd.DataFrame({"n_members": [3], "share_ci_low": [0.1], "pvalue": [0.5]}))
    assert re.findall(r"<th[^>]*>([^<]*)</th>", with_intervals) == ["members", "share, low", "p-value"]
    assert "<th style=\"white-space: nowrap\">customers</th>" in out
    pd.testing.assert_frame_equal(df, before)
    long = html_table(pd.DataFrame({"note": ["a long explanation " * 4]}))
    assert "<td>a long explanation" in long  # long text may wrap


def test_styled_keeps_short_cells_on_one_line_and_lets_long_text_wrap():
    df = pd.DataFrame({"lift": ["+4.8% (-8.8% to +18.4%)", "-3.4% (-17.2% to +10.3%)"],
                       "note": ["x" * 41, "short"], "n": [1200, 3]})
    out = styled(df, {"n": "{:,}"}).to_html()
    selectors = re.search(r"([^}]*)\{\s*white-space: nowrap", out).group(1)
    cols = {int(c) for c in re.findall(r"_row\d+_col(\d+)", selectors)}
    assert cols == {0, 2}  # lift and n; the note column holds a 41-character cell
    assert "1,200" in out


def test_html_table_of_a_reset_pivot_has_one_header_per_column():
    pivot = pd.DataFrame({"channel": ["email", "search"], "a": [0.1, 0.2], "b": [0.3, 0.4]}).set_index("channel")
    pivot.columns.name = "transition"
    out = html_table(pivot.reset_index(), "{:.1%}")
    header = re.search(r"<thead>(.*?)</thead>", out, re.S).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", header) == ["channel", "a", "b"]


def test_styled_says_what_it_needs():
    import pytest

    from journeylib.core.errors import JourneyParameterError

    with pytest.raises(JourneyParameterError, match=r"DataFrame.*\.summary"):
        styled([1, 2])


def test_a_value_that_rounds_to_zero_has_no_minus_sign():
    df = pd.DataFrame({"extra": [-0.0004, -0.02, 0.0004], "gap": [-0.001, -1.0, 0.0]})
    html = styled(df, {"extra": "{:+.1%}", "gap": "{:.2f}"}).to_html()
    cells = re.findall(r">([^<]*)</td>", html)
    assert cells == ["0.0%", "0.00", "-2.0%", "-1.00", "+0.0%", "0.00"]
