"""Issue 23: the journey flow figure, the biggest drop-off, and attribution ranked by incremental effect."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import PathPatch, Rectangle

import journeylib as jl
from journeylib.core.errors import JourneyParameterError
from journeylib.core.result import TRUTH_COLUMNS
from journeylib.journeys import attribution as A
from journeylib.journeys import plots
from journeylib.journeys.stages import DropOff, biggest_drop_off, funnel


def _ev(rows):
    return pd.DataFrame([{"customer_id": c, "ts": pd.Timestamp(t, tz="UTC"), "stage": s, "event": "x"}
                         for c, t, s in rows])


TOY = _ev([("1", "2024-01-01", "a"), ("1", "2024-01-02", "b"), ("1", "2024-01-03", "c"),
           ("2", "2024-01-01", "a"), ("2", "2024-01-02", "b"),
           ("3", "2024-01-01", "a"), ("3", "2024-01-02", "b"),
           ("4", "2024-01-01", "a")])


def test_biggest_drop_off_by_hand():
    f = funnel(TOY, ["a", "b", "c"])
    d = biggest_drop_off(f)
    # a -> b loses 1 of 4 (25%), b -> c loses 2 of 3 (66.7%)
    assert isinstance(d, DropOff) and (d.from_stage, d.to_stage, d.lost, d.at_from) == ("b", "c", 2, 3)
    assert d.drop_off == pytest.approx(2 / 3)
    from statsmodels.stats.proportion import proportion_confint

    assert (d.ci_low, d.ci_high) == pytest.approx(proportion_confint(2, 3, alpha=0.05, method="wilson"), rel=1e-12)
    assert d.finding.text == ("The biggest drop-off is from b to c: 66.7% of the 3 customers who reached b did not "
                              f"go on to c ({d.ci_low:.1%} to {d.ci_high:.1%}).")
    assert d == f.biggest_drop_off
    grouped = funnel(TOY.assign(seg="x"), ["a", "b", "c"], by="seg",
                     customers=pd.DataFrame({"customer_id": ["1", "2", "3", "4"], "seg": ["p", "p", "q", "q"]}))
    with pytest.raises(JourneyParameterError, match="ungrouped funnel"):
        biggest_drop_off(grouped)
    assert grouped.biggest_drop_off is None


def test_journey_flow_figure_widths_are_customers():
    f = funnel(TOY, ["a", "b", "c"])
    fig, ax = plt.subplots()
    assert f.plot_flow(ax=ax) is ax
    nodes = [p for p in ax.patches if isinstance(p, Rectangle)]
    # node heights are the customers at each stage, relative to the entrants
    assert [round(p.get_height(), 12) for p in nodes] == [1.0, 0.75, 0.25]
    bands = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert len(bands) == 4  # a -> b, a -> left, b -> c, b -> left
    texts = [t.get_text() for t in ax.texts]
    assert "a\n4 customers" in texts and "c\n1 customers" in texts
    assert "1 did not go on\n(25.0% of a)" in texts and "2 did not go on\n(66.7% of b)" in texts
    assert ax.get_title().startswith("Biggest drop-off from b to c: 66.7% did not go on")
    grouped = funnel(TOY, ["a", "b", "c"], closed=False)
    with pytest.raises(JourneyParameterError, match="closed funnel"):
        plots.plot_journey_flow(grouped, ax=ax)


def test_journey_flow_names_are_not_mathtext():
    ev = TOY.replace({"stage": {"a": "$x^2$", "b": "a_b$"}})
    f = funnel(ev, ["$x^2$", "a_b$", "c"])
    fig, ax = plt.subplots()
    f.plot_flow(ax=ax)
    fig.canvas.draw()  # a mathtext parse would fail on "a_b$"
    assert any(t.get_text().startswith("$x^2$") for t in ax.texts)


@pytest.fixture(scope="module")
def sample_attribution(sample):
    return A.attribute(sample.events, touch_col="channel", cut_at_conversion="first", half_life=7,
                       shapley_value="rate", n_boot=100, seed=0)


def test_incremental_ranking_recovers_the_planted_order_on_the_sample(sample_attribution, sample):
    res, truth = sample_attribution, sample.ground_truth
    inc = res.incremental
    assert list(inc["channel"]) == truth["channels"]["order_by_effect"]
    assert list(inc["rank"]) == list(range(1, 7)) and set(inc["model"]) == {"markov"}
    # per 1,000 reached is the Markov credit over the customers the channel reached
    mk = res.summary[res.summary["model"] == "markov"].set_index("channel").loc[inc["channel"]]
    np.testing.assert_allclose(inc["per_1000_reached"], 1000 * mk["conversions"] / mk["journeys_reached"])
    assert (inc["ci_low"] < inc["per_1000_reached"]).all() and (inc["per_1000_reached"] < inc["ci_high"]).all()
    assert (inc["rank_ci_low"] <= inc["rank"]).all() and (inc["rank"] <= inc["rank_ci_high"]).all()
    # the headline finding ranks by incremental effect: email first, above referral (not search by volume)
    first = res.findings[0]
    assert first.text.startswith("email brings the most conversions per 1,000 customers reached: "
                                 f"{inc['per_1000_reached'].iloc[0]:,.0f} ({inc['ci_low'].iloc[0]:,.0f} to ")
    assert first.action.startswith("Move budget from direct toward email")
    volume = res.findings[2]
    assert volume.text.startswith("By volume, search brings the largest share")
    # against the planted truth: every rank recovered, each inside its bootstrap range
    table = res.against_truth(truth)
    assert list(table.columns) == list(TRUTH_COLUMNS)
    assert (table["planted"] == table["estimate"]).all() and table["covered"].all()
    assert table["quantity"].iloc[0] == "rank of email by incremental effect"
    pd.testing.assert_frame_equal(table, res.against_truth(truth["channels"]))
    with pytest.raises(JourneyParameterError, match="conversion_weight"):
        res.against_truth({"seed": 1})


def test_incremental_plot_starts_at_zero_and_states_the_leader(sample_attribution):
    fig, ax = plt.subplots()
    assert sample_attribution.plot_incremental(ax=ax) is ax
    assert ax.get_xlim()[0] == 0
    assert ax.get_title().startswith("email brings the most conversions per 1,000 customers reached")
    assert "per 1,000 customers reached" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["email", "referral"]


def test_incremental_without_markov_or_shapley_is_empty():
    pt = pd.DataFrame({"path": ["a", "a > b", "b"], "conversions": [3, 5, 1], "null_count": [10, 4, 9]})
    res = A.attribute(pt, models=["linear"], n_boot=0)
    assert res.incremental.empty and res.incremental_model is None
    assert res.findings[0].text.startswith("a brings the largest share of conversions")
    with pytest.raises(JourneyParameterError, match="markov or shapley"):
        res.against_truth({"channels": {"conversion_weight": {"a": 0.2, "b": 0.1}}})
    # Shapley alone ranks by Shapley credit per 1,000 reached, without a bootstrap: no interval
    sh = A.attribute(pt, models=["shapley"], n_boot=0)
    assert sh.incremental_model == "shapley" and sh.incremental["ci_low"].isna().all()
    assert "(" not in sh.findings[0].text.split(":")[1].split(" by ")[0]
