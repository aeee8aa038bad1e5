"""RFM scores, segments and migration on hand-built data."""
from __future__ import annotations

import dataclasses
import html

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from journeylib.core.errors import JourneyParameterError
from journeylib.core.result import Result
from journeylib.loyalty.rfm import RFMSegments, rfm_migration, rfm_segments, rfm_table, segment_name


@pytest.fixture
def tiny() -> pd.DataFrame:
    rows = [
        ("a", "2024-01-05", 10.0), ("a", "2024-02-10", 20.0), ("a", "2024-03-31", 5.0),
        ("b", "2024-01-20", 7.0), ("b", "2024-03-02", 3.0),
        ("c", "2024-02-01", 4.0),
        ("d", "2024-03-15", 1.0),
        ("e", "2024-04-05", 99.0),  # after the snapshot
        ("f", "2024-01-10 09:00", 2.0), ("f", "2024-01-10 18:00", 2.0), ("f", "2024-01-25", 3.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "revenue"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    df["event"] = "purchase"
    return pd.concat([df, pd.DataFrame({"customer_id": ["a"], "ts": pd.to_datetime(["2024-03-20"], utc=True),
                                        "event": ["product_view"], "revenue": [float("nan")]})], ignore_index=True)


def test_rfm_scores_cell_by_cell(tiny):
    r = rfm_table(tiny, as_of="2024-04-01", bins=5).set_index("customer_id")
    assert list(r.index) == ["a", "b", "c", "d", "f"]
    assert r["recency_days"].round(3).to_dict() == {"a": 1.0, "b": 30.0, "c": 60.0, "d": 17.0, "f": 67.0}
    assert r["frequency"].to_dict() == {"a": 3, "b": 2, "c": 1, "d": 1, "f": 3}
    assert r["monetary"].to_dict() == {"a": 35.0, "b": 10.0, "c": 4.0, "d": 1.0, "f": 7.0}
    assert r["R"].to_dict() == {"a": 5, "b": 3, "c": 2, "d": 4, "f": 1}
    assert r["F"].to_dict() == {"a": 5, "b": 3, "c": 2, "d": 2, "f": 5}  # ties share the average rank
    assert r["M"].to_dict() == {"a": 5, "b": 4, "c": 2, "d": 1, "f": 3}
    assert r.loc["a", "rfm"] == "555"
    assert r["segment"].to_dict() == {"a": "champions", "b": "need attention", "c": "hibernating",
                                      "d": "potential loyalists", "f": "cannot lose them"}
    s = rfm_segments(rfm_table(tiny, as_of="2024-04-01"))
    t = s.table.set_index("segment")
    assert t["customers"].sum() == 5 and t.loc["champions", "revenue"] == 35.0
    assert t.loc["champions", "share_revenue"] == pytest.approx(35 / 57)
    # champions (a: 35) and need attention (b: 10) bring 45 of 57 revenue units with 2 of 5 customers
    top2 = t.sort_values("share_revenue", ascending=False).index[:2]
    assert list(top2) == ["champions", "need attention"]
    assert s.reading == "champions and need attention are 40% of customers and bring 79% of revenue."
    assert s.grid["customers"].sum() == 5
    _, (a1, a2) = plt.subplots(1, 2)
    assert s.plot(ax=a1) is a1 and a1.get_ylabel().startswith("R score")
    assert s.plot_segments(ax=a2) is a2 and a2.get_xlabel() == "share of all customers / of all revenue (%)"
    assert [t.get_text() for t in a2.get_yticklabels()] == list(s.table["segment"])[::-1]
    assert "<table" in s._repr_html_()


def test_segment_grid_and_bins(tiny):
    assert segment_name(5, 5) == "champions" and segment_name(1, 1) == "hibernating"
    assert segment_name(5, 1) == "new customers" and segment_name(4, 1) == "promising"
    assert segment_name(2, 4) == "at risk" and segment_name(3, 3) == "need attention"
    r3 = rfm_table(tiny, as_of="2024-04-01", bins=3).set_index("customer_id")
    assert r3["R"].to_dict() == {"a": 3, "b": 2, "c": 2, "d": 3, "f": 1}  # ceil(3 * rank / 5)
    with pytest.raises(JourneyParameterError, match="bins"):
        rfm_table(tiny, bins=1)


def test_migration_table(tiny):
    m = rfm_migration(tiny, "2024-02-01", "2024-04-01")
    assert m.to_numpy().sum() == 5
    assert m.loc["at risk", "champions"] == 1  # a: R2 F3 in February
    assert m.loc["potential loyalists", "need attention"] == 1  # b
    assert m.loc["champions", "cannot lose them"] == 1  # f
    assert m.loc["not yet a customer", "hibernating"] == 1 and m.loc["not yet a customer", "potential loyalists"] == 1
    share = rfm_migration(tiny, "2024-02-01", "2024-04-01", normalize=True)
    assert share.sum(axis=1).round(12).eq(1).all()
    with pytest.raises(JourneyParameterError, match="after"):
        rfm_migration(tiny, "2024-04-01", "2024-02-01")


def test_segments_for_people_are_the_summary_in_percent_and_shown_by_the_result(tiny):
    s = rfm_segments(rfm_table(tiny, as_of="2024-04-01"))
    d = s.display_table().set_index("segment")
    t = s.table.set_index("segment")
    assert list(d.index) == list(t.index)
    for seg in t.index:
        assert d.loc[seg, "share of revenue"] == f"{t.loc[seg, 'share_revenue']:.1%}"
        assert d.loc[seg, "share of customers"] == f"{t.loc[seg, 'share_customers']:.1%}"
        assert d.loc[seg, "customers"] == t.loc[seg, "customers"]
    page = s._repr_html_()  # what display(result) shows in a report: the table for people
    assert "share of revenue" in page and "share_revenue" not in page


def test_rfm_segments_protocol(tiny):
    s = rfm_segments(rfm_table(tiny, as_of="2024-04-01"))
    assert isinstance(s, Result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.bins = 3
    copy = s.summary
    copy.loc[:, "revenue"] = 0.0
    assert s.summary["revenue"].sum() == 57.0
    top, slipping = s.findings
    # champions (35) and need attention (10) of 57; f, "cannot lose them", brought 7
    assert top.value == pytest.approx(45 / 57)
    assert top.value == s.table.nlargest(2, "share_revenue")["share_revenue"].sum()
    assert top.text == s.reading
    assert slipping.value == pytest.approx(7 / 57) and "(cannot lose them)" in slipping.text and "12%" in slipping.text
    assert s.checks[0].status == "pass"
    hostile = "<img src=x onerror=alert(1)>"
    bad = RFMSegments(s.table.assign(segment=s.table["segment"].replace("champions", hostile)), s.grid, 5, s.as_of)
    page = bad._repr_html_()
    assert hostile not in page and html.escape(hostile) in page
