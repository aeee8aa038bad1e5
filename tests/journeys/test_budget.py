"""Channel cost and return: CAC and ROAS by hand, the sample's planted returns, cost-table errors."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError, JourneyDataWarning, JourneyParameterError
from journeylib.core.load import load_costs
from journeylib.journeys.budget import BudgetResult, channel_budget

CORPUS = Path(__file__).resolve().parents[1] / "bad_inputs"
T0 = pd.Timestamp("2024-01-05", tz="UTC")
HAND_MODELS = ("first_touch", "last_touch", "linear")


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


def tiny_log() -> pd.DataFrame:
    """a: email, social, then buys 100; b: email, then buys 60; c: social, never buys."""
    rows = [("a", day(0), "landing", "email", None), ("a", day(1), "product_view", "social", None),
            ("a", day(2), "purchase", None, 100.0),
            ("b", day(0), "landing", "email", None), ("b", day(1), "purchase", None, 60.0),
            ("c", day(0), "landing", "social", None)]
    return pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel", "revenue"])


TINY_COSTS = pd.DataFrame({"channel": ["email", "social"], "period": ["2024-01", "2024-01"], "spend": [40.0, 50.0]})


def value(r: BudgetResult, metric: str, model: str, channel: str) -> float:
    m = r.metric(metric, model).set_index("channel")
    return float(m.loc[channel, "value"])


def test_cac_and_roas_by_hand():
    r = channel_budget(tiny_log(), TINY_COSTS, models=HAND_MODELS, n_boot=0)
    # linear: a's order is split email/social; b's is email's
    assert value(r, "conversions", "linear", "email") == pytest.approx(1.5)
    assert value(r, "revenue", "linear", "email") == pytest.approx(110.0)
    assert value(r, "cac", "linear", "email") == pytest.approx(40 / 1.5)
    assert value(r, "roas", "linear", "email") == pytest.approx(110 / 40)
    assert value(r, "cac", "linear", "social") == pytest.approx(50 / 0.5)
    assert value(r, "roas", "linear", "social") == pytest.approx(50 / 50)
    # last touch: a's order is social's
    assert value(r, "roas", "last_touch", "email") == pytest.approx(60 / 40)
    assert value(r, "roas", "last_touch", "social") == pytest.approx(100 / 50)
    assert value(r, "cac", "last_touch", "social") == pytest.approx(50.0)
    # first touch: both orders are email's; social has no conversion, so no acquisition cost
    assert value(r, "roas", "first_touch", "email") == pytest.approx(160 / 40)
    assert value(r, "roas", "first_touch", "social") == pytest.approx(0.0)
    assert np.isnan(value(r, "cac", "first_touch", "social"))
    assert value(r, "marginal_return", "first_touch", "email") == pytest.approx(3.0)
    assert value(r, "spend", "linear", "social") == pytest.approx(50.0)
    # email: best by first touch, worst by last touch (and social the reverse): flagged with the reason
    b = r.budget.set_index("channel")
    assert b["flag"].all()
    assert "social mostly closes journeys that other channels open" in b.loc["social", "reason"]
    assert "email mostly opens journeys that other channels close" in b.loc["email", "reason"]
    assert any("The models disagree on" in f.text for f in r.findings)
    assert [c.status for c in r.checks if c.name == "budget: bootstrap intervals"] == ["warn"]


def test_customer_value_return_and_periods_by_hand():
    r = channel_budget(tiny_log(), TINY_COSTS, models=("linear",), n_boot=0, customer_value=200.0)
    assert value(r, "clv_return", "linear", "email") == pytest.approx(1.5 * 200 / 40)
    per = pd.Series({"a": 300.0, "b": 100.0, "c": 999.0})
    r2 = channel_budget(tiny_log(), TINY_COSTS, models=("linear",), n_boot=0, customer_value=per,
                        return_on="clv")
    # a's value is split email/social, b's is email's; c never converts, so it counts nothing
    assert value(r2, "clv_return", "linear", "email") == pytest.approx((150 + 100) / 40)
    assert value(r2, "marginal_return", "linear", "social") == pytest.approx(150 / 50 - 1)
    p = r.periods
    row = p[(p["channel"] == "email") & (p["model"] == "linear")].iloc[0]
    assert (row["period"], row["spend"], row["conversions"], row["roas"]) == ("2024-01", 40.0, 1.5, 110 / 40)


def test_experiment_supports_the_model_inside_its_interval():
    r = channel_budget(tiny_log(), TINY_COSTS, models=HAND_MODELS, n_boot=0,
                       experiments={"email": (1.0, 0.8, 1.2)})
    e = r.experiments.iloc[0]
    assert (e["channel"], e["supported_models"], e["closest_model"]) == ("email", "last_touch", "last_touch")
    with pytest.raises(JourneyParameterError, match="not a channel of the events"):
        channel_budget(tiny_log(), TINY_COSTS, models=HAND_MODELS, n_boot=0, experiments={"tv": (1, 0, 2)})


# --------------------------------------------------------------------------- the sample's planted returns
@pytest.fixture(scope="module")
def sample():
    return jl.load_journey("sample")


@pytest.fixture(scope="module")
def sample_budget(sample):
    return channel_budget(sample.events, sample.costs, n_boot=100, seed=1)


def test_planted_returns_are_covered(sample, sample_budget):
    t = sample_budget.against_truth(sample.ground_truth)
    assert list(t["quantity"].str.split().str[4]) == ["email", "paid_ads", "social"]
    assert t["covered"].all()
    # the intervals are informative: email's lies above break-even, social's below, paid_ads' includes it
    t = t.set_index(t["quantity"].str.split().str[4])
    assert t.loc["email", "ci_low"] > 1.5 and t.loc["social", "ci_high"] < 0.6
    assert t.loc["paid_ads", "ci_low"] < 1 < t.loc["paid_ads", "ci_high"]


def test_profitable_and_unprofitable_channels_recovered_under_every_model(sample, sample_budget):
    truth = sample.ground_truth["costs"]
    b = sample_budget.budget.set_index("channel")
    assert sample_budget.headline_model == "markov"
    assert b.loc[truth["profitable"], "verdict"].eq("pays back").all()
    assert b.loc[truth["unprofitable"], "verdict"].eq("does not pay back").all()
    assert b.loc[truth["uncertain"], "verdict"].eq("uncertain").all()
    assert list(b.index[:1]) == ["email"] and b.index[-1] == "social"
    for m in sample_budget.models:
        roas = sample_budget.metric("roas", m).set_index("channel")
        assert roas.loc["email", "ci_low"] > 1, m
        assert roas.loc["social", "ci_high"] < 1, m
    first = sample_budget.findings[0]
    assert first.text.startswith("email pays back and social does not")
    assert first.ci_low <= first.value <= first.ci_high
    assert "Move budget from social toward email" in first.action
    assert "paid_ads is uncertain" in sample_budget.findings[1].text
    assert {c.name for c in sample_budget.checks} >= {"budget: bootstrap intervals", "budget: channels without spend"}


def test_protocol(sample_budget):
    s = sample_budget.summary
    s.loc[:, "value"] = -1
    assert (sample_budget.summary["value"] != -1).any()
    assert set(sample_budget.summary["metric"]) == {"spend", "conversions", "revenue", "cac", "roas",
                                                    "marginal_return"}
    assert all("*" not in f.text and "`" not in f.text for f in sample_budget.findings)
    ax = sample_budget.plot()
    assert "pays back" in ax.get_title() and "per unit of spend" in ax.get_xlabel()
    plt.close("all")
    assert "<table" in sample_budget._repr_html_()


def test_names_from_data_are_escaped():
    log = tiny_log().replace({"channel": {"email": "<b>e$mail</b>"}})
    costs = TINY_COSTS.replace({"channel": {"email": "<b>e$mail</b>"}})
    r = channel_budget(log, costs, models=HAND_MODELS, n_boot=0)
    html = r._repr_html_()
    assert "<b>e$mail" not in html and "&lt;b&gt;e$mail" in html
    r.plot()
    plt.gcf().canvas.draw()
    plt.close("all")


# --------------------------------------------------------------------------- cost-table errors


def test_unknown_channels_are_a_clear_error():
    with pytest.raises(JourneyDataError, match=r"(?s)column 'channel'.*1 of 2 rows.*a channel of the events "
                                               r"\(email, social\).*rename 'Paid Ads'"):
        load_costs(pd.DataFrame({"channel": ["email", "Paid Ads"], "period": ["2024-01", "2024-01"],
                                 "spend": [1.0, 2.0]}), channels=["email", "social"])
    costs = pd.DataFrame({"channel": ["email", "tv"], "period": ["2024-01", "2024-01"], "spend": [1.0, 2.0]})
    with pytest.raises(JourneyDataError, match=r"rename 'tv'"):
        channel_budget(tiny_log(), costs, models=HAND_MODELS, n_boot=0)


def test_cost_table_reading():
    raw = pd.DataFrame({"Channel": [" email", "email", "social"], "Month": ["2024-01", "2024-01-15", "2024-01"],
                        "cost": [10, 5, 7], "campaign": ["spring", "spring", None]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = load_costs(raw, columns={"Channel": "channel", "Month": "period", "cost": "spend"})
    assert list(out.columns) == ["channel", "period", "spend", "campaign"]
    assert out["period"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-15"),
                                      pd.Timestamp("2024-01-01")]
    assert out["spend"].tolist() == [10.0, 5.0, 7.0] and out["campaign"].tolist() == ["spring", "spring", None]
    dupes = pd.DataFrame({"channel": ["email", "email"], "period": ["2024-01", "2024-01"], "spend": [1.0, 2.5]})
    assert load_costs(dupes)["spend"].tolist() == [3.5]  # spend split over two rows is added up
    from journeylib.core.load import costs_frame

    assert not [c for c in costs_frame(dupes)[1] if c.name == "costs: identical rows"]
    # rows that repeat exactly are summed too, but said: a repeated export would double the spend
    same = pd.DataFrame({"channel": ["email", "email", "social", "email"], "period": ["2024-01"] * 4,
                         "spend": [40.0, 40.0, 40.0, 40.0], "campaign": [None, None, None, "promo"]})
    out, checks = costs_frame(same)
    assert out.loc[out["campaign"].isna() & (out["channel"] == "email"), "spend"].tolist() == [80.0]
    warn = [c for c in checks if c.name == "costs: identical rows"]
    assert len(warn) == 1 and warn[0].status == "warn"
    assert "2 rows repeat another row exactly" in warn[0].detail and "rows 1, 2," in warn[0].detail
    with pytest.raises(JourneyDataError, match=r"missing required column\(s\) \['spend'\]"):
        load_costs(pd.DataFrame({"channel": ["email"], "period": ["2024-01"]}))
    with pytest.raises(JourneyParameterError, match="no costs source"):
        channel_budget(tiny_log(), None)
    with pytest.raises(JourneyParameterError, match="return_on='clv' needs customer_value"):
        channel_budget(tiny_log(), TINY_COSTS, return_on="clv")


def test_spend_reports_as_ad_platforms_and_spreadsheets_write_them(tmp_path):
    """Periods as the platforms write them (ISO, named months, a reporting range's first day, day-first numbers
    with the source's timestamp_format) and the totals under the rows (left out: they would double the spend)."""
    (tmp_path / "gads.csv").write_text(
        'Campaign report\n"March 1, 2025 - March 31, 2025"\nDay,Channel,Campaign,Cost\n2025-03-01,paid_search,brand,'
        '12.50\n2025-03-02,paid_search,brand,"1,002.10"\nTotal: Account,,--,"1,014.60"\nTotal: Search,,--,"1,014.60"\n')
    with pytest.warns(JourneyDataWarning, match=r"2 summary row\(s\) left out \(rows 3, 4: 'Total: Account', "
                                                r"'Total: Search'\)"):
        out = load_costs(tmp_path / "gads.csv", {"Day": "period", "Channel": "channel", "Campaign": "campaign",
                                                 "Cost": "spend"})
    assert out[["period", "spend"]].values.tolist() == [[pd.Timestamp("2025-03-01"), 12.5],
                                                        [pd.Timestamp("2025-03-02"), 1002.1]]
    written = {"March 2025": "2025-03-01", "Mar 2025": "2025-03-01", "Mar 5, 2025": "2025-03-05",
               "05-Mar-2025": "2025-03-05", "2025-03-01 - 2025-03-31": "2025-03-01",
               "2025-03-08 to 2025-03-14": "2025-03-08", "03/2025": "2025-03-01"}
    for text, day in written.items():
        got = load_costs(pd.DataFrame({"channel": ["email"] * 2, "period": [text, "2025-04"], "spend": [3.0, 4.0]}))
        assert got["period"].tolist() == [pd.Timestamp(day), pd.Timestamp("2025-04-01")], text
    numbers = pd.DataFrame({"channel": ["email"] * 2, "period": ["01/03/2025", "13/03/2025"], "spend": [1.0, 2.0]})
    with pytest.raises(JourneyDataError, match=r"(?s)column 'period'.*2 of 2 rows.*could be day-first or "
                                               r"month-first: add timestamp_format to sources\.costs"):
        load_costs(numbers)
    got = load_costs(numbers, timestamp_format="%d/%m/%Y")
    assert got["period"].tolist() == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-13")]
    with pytest.raises(JourneyDataError, match=r"(?s)1 of 2 rows.*as timestamp_format says \(%m/%d/%Y\)"):
        load_costs(numbers, timestamp_format="%m/%d/%Y")
    campaign_total = pd.DataFrame({"channel": ["email"] * 3, "period": ["2025-03"] * 3, "spend": [1.0, 2.0, 3.0],
                                   "campaign": ["Total Recall", "spring", "Grand Total"]})
    with pytest.warns(JourneyDataWarning, match="1 summary row"):
        got = load_costs(campaign_total)
    assert got["campaign"].tolist() == ["Total Recall", "spring"]  # a campaign named Total... is spend


def test_simulator_plants_costs_from_its_own_stream():
    data = jl.simulate_journeys(300, seed=3)
    c = data.costs
    assert sorted(c["channel"].unique()) == ["email", "paid_ads", "social"]
    assert (c["spend"] >= 0).all() and c["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    truth = data.ground_truth["costs"]
    assert truth["planted_roas"] == {"email": 3.0, "paid_ads": 1.0, "social": 0.4}
    for ch, t in truth["channels"].items():
        assert t["spend"] == pytest.approx(c.loc[c["channel"] == ch, "spend"].sum(), abs=0.01)
        assert t["credited_revenue"] / t["spend"] == pytest.approx(t["planted_roas"], rel=1e-3)


def test_journey_months_from_the_engine_equal_the_journeys_frame():
    """The budget's per-journey rows (month taken in the engine) equal journeys() with the month taken in pandas."""
    from journeylib.journeys.budget import _journey_months
    from journeylib.journeys.paths import journeys

    events = jl.load_dataset("sample").events
    for kwargs in ({}, {"lookback": 14}):
        got = _journey_months(events, kwargs)
        j = journeys(events, **kwargs)
        end = pd.to_datetime(j["conversion_ts"].where(j["conversions"] > 0, j["last_touch_ts"]), utc=True)
        want = j.assign(period=end.dt.tz_localize(None).dt.strftime("%Y-%m"))
        pd.testing.assert_frame_equal(got.assign(period=got["period"].astype(str)),
                                      want[["customer_id", "path", "conversions", "conversion_value", "period"]])
        assert got["period"].nunique() > 6


def test_display_models_has_a_row_per_channel_and_model(sample_budget):
    t = sample_budget.display_models()
    models = ["Markov", "first touch", "last touch", "linear", "position based", "Shapley"]
    assert list(t.columns) == ["channel", "model", "revenue per unit of spend", "cost per new customer"]
    # channels ranked as in the budget view, each starting with the headline model
    assert list(t["channel"]) == [c for c in sample_budget.budget["channel"] for _ in models]
    assert list(t["model"]) == models * 3
    row = t[(t["channel"] == "social") & (t["model"] == "first touch")].iloc[0]
    s = sample_budget.summary.set_index(["channel", "model", "metric"])
    v, lo, hi = s.loc[("social", "first_touch", "cac"), ["value", "ci_low", "ci_high"]]
    assert row["cost per new customer"] == f"{v:,.2f} ({lo:,.2f} to {hi:,.2f})"  # as the findings write it


def test_display_models_adds_the_customer_value_return(sample):
    r = channel_budget(sample.events, sample.costs, models=("linear",), n_boot=0, customer_value=200.0)
    t = r.display_models()
    assert list(t.columns) == ["channel", "model", "revenue per unit of spend", "cost per new customer",
                               "customer value per unit of spend"]
    assert list(t["model"]) == ["linear"] * 3
    # without resamples a value has no interval
    assert not t.iloc[:, 2:].stack().str.contains(" to ").any()


def test_months_summarised_per_channel_and_plotted(sample_budget):
    m = sample_budget.display_months()
    p = sample_budget.periods
    p = p[p["model"] == "markov"]
    assert list(m["channel"]) == list(sample_budget.budget["channel"])
    email = p[p["channel"] == "email"].set_index("period")["roas"]
    row = m.set_index("channel").loc["email"]
    assert row["months with spend"] == len(email) == 18
    assert row["median month"] == f"{email.median():,.2f}"
    assert row["lowest month"] == f"{email.min():,.2f} ({email.idxmin()})"
    assert row["highest month"] == f"{email.max():,.2f} ({email.idxmax()})"
    fig, ax = plt.subplots()
    try:
        sample_budget.plot_months(ax=ax)
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines[:3]] == list(m["channel"])
        np.testing.assert_array_equal(lines[0].get_ydata(), email.sort_index().to_numpy())
        assert ax.get_xlabel() == "month" and "revenue per unit of spend" in ax.get_ylabel()
        assert [ln.get_ydata()[0] for ln in lines[3:]] == [1.0]  # break-even
        r = fig.canvas.get_renderer()
        assert ax.get_legend().get_window_extent(r).x0 >= ax.get_window_extent(r).x1  # beside the plot
    finally:
        plt.close(fig)


def test_a_channel_whose_spend_is_all_zero_is_organic():
    """A paused channel exported with spend 0 raised a raw ValueError (its rank was NaN)."""
    costs = pd.DataFrame({"channel": ["email", "social", "email"], "period": ["2024-01", "2024-01", "2024-02"],
                          "spend": [40.0, 0.0, 0.0]})
    r = channel_budget(tiny_log(), costs, models=("linear",), n_boot=0)
    assert list(r.budget["channel"]) == ["email"]
    assert value(r, "roas", "linear", "email") == pytest.approx(value(
        channel_budget(tiny_log(), costs[costs["spend"] > 0], models=("linear",), n_boot=0), "roas", "linear", "email"))
    assert "social" in next(c.detail for c in r.checks if c.name == "budget: channels without spend")
    m = r.display_months().set_index("channel")
    assert m.loc["email", "months with spend"] == 1  # February's zero spend has no return to show
    with pytest.raises(JourneyDataError, match="every row's spend is 0"):
        channel_budget(tiny_log(), costs.assign(spend=0.0), models=("linear",), n_boot=0)


def test_credit_of_a_weighting_equals_attribute_on_its_path_table(sample):
    """The budget parses the journeys' paths once and weights them per resample and month; each
    weighting credits what attribute() gives on that weighting's own path table (paths of weight 0
    and a channel no journey of the weighting touched included)."""
    from journeylib.journeys.attribution import attribute
    from journeylib.journeys.budget import BUDGET_MODELS, _Crediting, _journey_months

    j = _journey_months(sample.events, {})
    codes, uniq = pd.factorize(j["path"], sort=True)
    conv, rev = j["conversions"].to_numpy(float), j["conversion_value"].to_numpy(float)
    clv = np.linspace(0, 50, len(j)) * (conv > 0)
    credit = _Crediting(codes, np.asarray(uniq, dtype=object), BUDGET_MODELS, conv, rev, clv)
    rng = np.random.default_rng(11)
    no_social = ~j["path"].str.contains("social").to_numpy()
    weights = {"resample": rng.multinomial(len(j), np.full(len(j), 1 / len(j))).astype(float),
               "one month": (j["period"] == j["period"].iloc[0]).to_numpy(float),
               "no social journey": no_social * rng.multinomial(len(j), np.full(len(j), 1 / len(j))).astype(float)}
    for name, w in weights.items():
        got = credit(w)
        for value, axis in ((rev, 1), (clv, 2)):
            pt = (pd.DataFrame({"path": j["path"], "conversions": w * conv, "conversion_value": w * value,
                                "null_count": w * (conv == 0)}))
            ref = attribute(pt, models=BUDGET_MODELS, n_boot=0).summary
            for mi, m in enumerate(BUDGET_MODELS):
                r = ref[ref["model"] == m].set_index("channel").reindex(credit.paths.channels).fillna(0.0)
                np.testing.assert_allclose(got[mi, :, 0], r["conversions"], rtol=1e-9, atol=1e-9, err_msg=name)
                np.testing.assert_allclose(got[mi, :, axis], r["value"], rtol=1e-9, atol=1e-9, err_msg=name)
    social = credit.paths.channels.index("social")
    assert (credit(weights["no social journey"])[:, social] == 0).all()
