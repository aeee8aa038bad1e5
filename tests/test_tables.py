"""Report tables: numbers formatted for a reader, strings from data escaped."""
import pandas as pd

from journeylib.tables import html_table


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
    assert "<td style=\"white-space: nowrap\">True</td>" in out  # booleans are not counts
    assert "<th style=\"white-space: nowrap\">customers</th>" in out
    pd.testing.assert_frame_equal(df, before)
    long = html_table(pd.DataFrame({"note": ["a long explanation " * 4]}))
    assert "<td>a long explanation" in long  # long text may wrap
