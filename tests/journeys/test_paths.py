"""Paths: hand-built event logs with known journeys, path table and Sankey links."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from journeylib.core import buckets
from journeylib.journeys import paths as P
from journeylib.journeys import plots
from journeylib.core.errors import JourneyParameterError
from journeylib.journeys.stages import journey_map_data, stage_transitions


def _log():
    rows = [
        ("1", "2024-01-01 10:00", "visit", "search", "awareness", None),
        ("1", "2024-01-02 10:00", "visit", "email", "consideration", None),
        ("1", "2024-01-02 11:00", "winback_sent", "email", None, None),   # outbound: never a touch
        ("1", "2024-01-03 10:00", "purchase", None, "purchase", 30.0),
        ("1", "2024-01-20 10:00", "visit", "social", "consideration", None),
        ("1", "2024-01-21 10:00", "purchase", "email", "repeat", 10.0),    # conversion, not a touch
        ("2", "2024-01-01 10:00", "visit", "social", "awareness", None),
        ("2", "2024-01-01 10:00", "visit", "direct", "awareness", None),   # tie: ordered by event, channel
        ("2", "2024-01-15 10:00", "visit", "social", "consideration", None),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel", "stage", "revenue"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df


def test_journeys_cut_modes():
    ev = _log()
    j = P.journeys(ev)  # first conversion cuts, later touches dropped
    assert j["path"].tolist() == ["search > email", "direct > social > social"]
    assert j["conversions"].tolist() == [1, 0]
    assert j["conversion_value"].tolist() == [30.0, 0.0]
    assert j.loc[0, "days_to_convert"] == pytest.approx(2.0)
    e = P.journeys(ev, cut_at_conversion="each")
    assert e["path"].tolist() == ["search > email", "social", "direct > social > social"]
    assert e["conversions"].tolist() == [1, 1, 0]
    n = P.journeys(ev, cut_at_conversion="none")
    assert n["path"].tolist() == ["search > email > social", "direct > social > social"]
    assert n.loc[0, "conversions"] == 2 and n.loc[0, "conversion_value"] == 40.0


def test_touches_at_the_conversion_instant_follow_the_event_order():
    """Rows ordered by (time, event, label): at the instant of the first purchase, an
    'ad_click' touch comes before it and a 'view' touch after it."""
    rows = [
        ("1", "2024-01-01 10:00", "visit", "search", None),
        ("1", "2024-01-02 10:00", "ad_click", "display", None),
        ("1", "2024-01-02 10:00", "purchase", None, 25.0),
        ("1", "2024-01-02 10:00", "view", "email", None),
        ("1", "2024-01-05 10:00", "purchase", None, 5.0),
    ]
    ev = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel", "revenue"])
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
    j = P.journeys(ev)
    assert j["path"].tolist() == ["search > display"]
    assert j["conversions"].tolist() == [1] and j["conversion_value"].tolist() == [25.0]
    assert P.journeys(ev, cut_at_conversion="each")["path"].tolist() == ["search > display", "email"]


@pytest.mark.parametrize("kw", [{}, {"lookback": 10}, {"collapse_repeats": True}])
def test_first_conversion_cut_equals_the_ordered_window_cut(small_sim, kw):
    """Cutting at the first conversion is a hash join (no session gap) or an ordered
    window (with one); a gap longer than the whole log splits nothing, so both agree."""
    fast = P.journeys(small_sim.events, **kw)
    windowed = P.journeys(small_sim.events, session_gap=10_000, **kw)
    assert len(fast) > 1000 and fast["conversions"].sum() > 100
    pd.testing.assert_frame_equal(fast, windowed)


def test_session_gap_lookback_collapse_and_event_paths():
    ev = _log()
    g = P.journeys(ev, session_gap=7)
    assert g["path"].tolist() == ["search > email", "direct > social", "social"]
    lb = P.journeys(ev, lookback=1.5)  # customer 1: only touches within 1.5 days of the purchase
    assert lb["path"].tolist() == ["email", "social"]
    c = P.journeys(ev, collapse_repeats=True)
    assert c["path"].tolist() == ["search > email", "direct > social"]
    assert P.journeys(ev, touch_col="stage")["path"].tolist()[0] == "awareness > consideration"
    with pytest.raises(JourneyParameterError, match="cut_at_conversion"):
        P.journeys(ev, cut_at_conversion="sometimes")
    with pytest.raises(JourneyParameterError, match="touch_col"):
        P.journeys(ev, touch_col="nope")


def test_path_table_top_paths_sankey(small_sim):
    ev = _log()
    pt = P.path_table(ev, cut_at_conversion="each")
    assert pt.set_index("path").loc["social", "conversions"] == 1
    assert pt["null_count"].sum() == 1 and pt["conversion_value"].sum() == 40.0
    sk = P.sankey_data(pt, steps=2).set_index(["source", "target"])["value"]
    assert sk[("1. search", "2. email")] == 1
    assert sk[("2. social", "... (continues)")] == 1
    assert sk[("1. social", "conversion")] == 1
    j = P.journeys(small_sim.events)
    big = P.path_table(small_sim.events)
    # the path table aggregates the journeys frame exactly
    assert big["conversions"].sum() == j["conversions"].sum()
    assert big["null_count"].sum() == (j["conversions"] == 0).sum()
    top = P.top_paths(big, 5)
    assert top["journeys"].is_monotonic_decreasing and len(top) == 5
    counts = j["path"].value_counts()
    assert top["journeys"].tolist() == counts.sort_values(ascending=False).head(5).tolist()
    lengths = P.path_lengths(j)
    assert lengths["journeys"].sum() == len(j)
    ttc = P.time_to_convert(j)
    assert ttc.loc[0, "median"] == pytest.approx(j.loc[j.conversions > 0, "days_to_convert"].median())
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    assert plots.plot_path_lengths(j, ax=a) is a
    heights = [r.get_height() for r in a.patches]
    assert heights == lengths["journeys"].tolist() + lengths["converting"].tolist()
    assert a.yaxis.get_major_formatter()(12345, 0) == "12,345" and a.get_xlabel() == "touchpoints in the journey (count)"
    assert plots.plot_time_to_convert(j, ax=b) is b
    assert sum(r.get_height() for r in b.patches) == ttc.loc[0, "journeys"]
    plt.close(fig)


def test_stage_transitions_and_journey_map():
    ev = _log()
    tr = stage_transitions(ev)
    c = tr.counts
    # customer 1: awareness>consideration>purchase>consideration>repeat; 2: awareness>awareness>consideration
    assert c.loc["awareness", "consideration"] == 2
    assert c.loc["purchase", "consideration"] == 1 and c.loc["awareness", "awareness"] == 1
    assert tr.share_going_back == pytest.approx(0.5)
    s = tr.summary.set_index("move")["transitions"]
    assert s["backward"] == 1 and s["repeat"] == 1 and s["forward"] == 4
    assert tr.plot().get_xlabel() == "next stage"
    jm = journey_map_data(ev, ["awareness", "consideration", "purchase"], score_col=None, n_drop_offs=1)
    sm = jm.summary.set_index("stage")
    assert sm.loc["awareness", "customers"] == 2 and sm.loc["purchase", "customers"] == 1
    assert sm.loc["consideration", "conversion_to_next"] == pytest.approx(0.5)
    assert sm["top_drop_off"].tolist() == [False, True, False]
    assert sm.loc["awareness", "top_touchpoints"].startswith(("direct 33%", "search 33%", "social 33%"))
    ax = jm.plot()
    lines = [ln for t in ax.texts if t.get_text().startswith("top touchpoints") for ln in t.get_text().splitlines()[1:]]
    pieces = [p.strip(" ·") for ln in lines if ln != "none recorded" for p in ln.split(" · ")]
    assert pieces and all(re.fullmatch(r"\S+\u00a0\d+%", p) for p in pieces), pieces  # name and share on one line
    assert "journey map" in ax.get_title(loc="left").lower()


def test_partitioned_path_table_equals_the_single_pass(small_sim):
    from journeylib.journeys import paths

    whole = paths.path_table(small_sim.events, partitions=1)
    split = paths.path_table(small_sim.events, partitions=4)
    pd.testing.assert_frame_equal(whole, split, check_dtype=False)


def test_path_table_from_journeys_equals_path_table_from_events(small_sim):
    kw = dict(cut_at_conversion="each", session_gap=14)
    from_events = P.path_table(small_sim.events, **kw)
    from_journeys = P.path_table(P.journeys(small_sim.events, **kw))
    pd.testing.assert_frame_equal(from_journeys, from_events, check_exact=False, rtol=1e-9)
    with pytest.raises(JourneyParameterError, match="journeys"):
        P.path_table(P.journeys(small_sim.events), session_gap=3)


def test_journeys_built_in_customer_buckets_equal_one_pass(small_sim, monkeypatch):
    whole = P.journeys(small_sim.events, cut_at_conversion="each")
    monkeypatch.setattr(buckets, "EVENTS_PER_BUCKET", 4000)  # ~17,000 events: 5 buckets
    split = P.journeys(small_sim.events, cut_at_conversion="each")
    pd.testing.assert_frame_equal(split, whole)


def test_paths_of_a_log_with_duplicate_rows_equal_those_of_the_clean_log(small_sim, monkeypatch):
    """A loaded log whose duplicate rows were dropped is a UNION, not a plain table: the
    first conversions then go into a table of their own (the path query reads the events
    once); the journeys, path table and attribution equal those of the clean log."""
    import warnings

    import journeylib as jl
    from journeylib.journeys.attribution import attribute

    monkeypatch.setenv("JOURNEYLIB_CACHE_DIR", "")
    clean = small_sim.events
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = jl.load_events(pd.concat([clean, clean.iloc[:40]], ignore_index=True))
    assert not P._reads_a_table(loaded) and P._reads_a_table(jl.core.engine.to_table(clean))
    pd.testing.assert_frame_equal(P.journeys(loaded), P.journeys(clean))
    pd.testing.assert_frame_equal(P.path_table(loaded), P.path_table(clean))
    a, b = attribute(loaded, n_boot=0), attribute(clean, n_boot=0)
    pd.testing.assert_frame_equal(a.summary, b.summary)


def test_journey_map_labels_fit_inside_their_chevrons():
    """A long stage name and a five-digit count are shrunk to the chevron, not drawn over its edges."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    ev = _log().replace({"stage": {"consideration": "consideration_and_comparison"}})
    jm = journey_map_data(ev, ["awareness", "consideration_and_comparison", "purchase"], score_col=None)
    fig, ax = plt.subplots(figsize=(6, 5))  # narrower than the default: forces shrinking
    jm.plot(ax=ax)
    renderer = fig.canvas.get_renderer()
    chevrons = [p for p in ax.patches if isinstance(p, Polygon)]
    labels = [t for t in ax.texts if t.get_text().replace("\n", " ") == "CONSIDERATION AND COMPARISON"
              or t.get_text().endswith((" customers", " customer"))]
    assert len(chevrons) == 3 and len(labels) == 4
    for t in labels:
        box = t.get_window_extent(renderer)
        i = round(ax.transData.inverted().transform(((box.x0 + box.x1) / 2, 0))[0])
        xs = ax.transData.transform(chevrons[i].get_xy())[:, 0]
        assert xs.min() <= box.x0 and box.x1 <= xs.max(), t.get_text()
    assert labels[1].get_text().count("\n") == 1  # too long for one line at this width: two lines
    assert [t.get_text() for t in labels if "customer" in t.get_text()] == ["2 customers", "2 customers", "1 customer"]
    plt.close(fig)
