"""The overview's monthly activity: counts per calendar month, and months the log covers only in part."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from journeylib.journeys import plots
from journeylib.journeys.overview import monthly_activity


def _log() -> pd.DataFrame:
    ts = pd.to_datetime(["2024-01-15 08:00", "2024-01-31 23:00", "2024-02-01 00:30", "2024-02-20 10:00",
                         "2024-03-10 09:00"], utc=True)
    return pd.DataFrame({"customer_id": ["a", "b", "a", "c", "a"], "ts": ts,
                         "event": ["visit", "purchase", "purchase", "visit", "visit"]})


def test_months_counted_and_partial_months_flagged():
    """An export from 15 January to 10 March: January (17 days) and March (10 days) are partial."""
    m = monthly_activity(_log())
    assert m["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    assert m["active_customers"].tolist() == [2, 2, 1]
    assert m["events"].tolist() == [2, 2, 1]
    assert m["orders"].tolist() == [1, 1, 0]
    assert m["days_observed"].tolist() == [17, 29, 10]
    assert m["partial"].tolist() == [True, False, True]


def test_partial_months_are_drawn_hollow_and_named_in_the_legend():
    fig, ax = plt.subplots()
    plots.plot_monthly_activity(monthly_activity(_log()), ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[-1] == "part of the month only (2024-01 17 days, 2024-03 10 days)"
    hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white" and len(ln.get_xdata()) == 1]
    assert len(hollow) == 4  # two partial months, two lines each
    solid = [ln for ln in ax.get_lines() if ln.get_label() == "active customers"][0]
    assert pd.isna(solid.get_ydata()).tolist() == [True, False, True]
    plt.close(fig)
