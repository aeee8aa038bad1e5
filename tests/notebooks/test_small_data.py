"""Small and partial data (issue 22): the analyses 04 calls give a result or a specific journeylib
error, sections fail in place, and the notebooks run to their end on small-data variants.

Variants are simulated (journeylib.simulate): a few hundred customers, a two-month history,
no customers table, no channel column, no revenue, and a real-shop-like log (about 3,700
customers over six months, under 50 repeat buyers).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core import health
from journeylib.core.errors import JourneyDataError, JourneyFitError, JourneyParameterError
from journeylib.core.locations import NOTEBOOKS_DIR
from journeylib.loyalty import clv
from journeylib.loyalty.cohorts import cohort_table, repeat_purchase
from journeylib.loyalty.rfm import rfm_segments, rfm_table
from journeylib.report import notebook as nbmod
from journeylib.report import runner

NB04 = NOTEBOOKS_DIR / "04_loyalty_cohorts.ipynb"
STAGES = "[awareness, consideration, cart, purchase, repeat, advocacy]"


# --------------------------------------------------------------------------- variants

@pytest.fixture(scope="session")
def real_shop() -> jl.SimulatedData:
    """About 3,700 customers over six months, about 1,000 buyers and 47 repeat buyers."""
    return jl.simulate_journeys(3700, seed=3, months=6, mean_purchase_rate=1 / 2000)


@pytest.fixture(scope="session")
def few() -> jl.SimulatedData:
    return jl.simulate_journeys(300, seed=5)


@pytest.fixture(scope="session")
def short() -> jl.SimulatedData:
    return jl.simulate_journeys(800, seed=6, months=2)


def _repeat_buyers(events: pd.DataFrame, end: pd.Timestamp | None = None) -> int:
    """Customers with purchases on two or more distinct days (up to ``end``), counted in pandas."""
    p = events[events["event"] == "purchase"]
    if end is not None:
        p = p[p["ts"].dt.floor("D") <= end]
    return int((p.assign(d=p["ts"].dt.floor("D")).groupby("customer_id")["d"].nunique() > 1).sum())


def _write(folder: Path, events: pd.DataFrame, customers: pd.DataFrame | None = None, *,
           touchpoints: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    events.to_parquet(folder / "events.parquet", index=False)
    src = "events: {path: events.parquet}"
    if customers is not None:
        customers.to_parquet(folder / "customers.parquet", index=False)
        src += ", customers: {path: customers.parquet}"
    yml = (f"version: 1\nname: Small data variant\nsources: {{{src}}}\nstages: {{order: {STAGES}, column: stage}}\n"
           "events: {purchase: purchase, revenue: revenue, cart: add_to_cart, review: review}\n")
    if touchpoints:
        yml += "touchpoints: {column: channel}\n"
    (folder / "journey.yml").write_text(yml)
    return folder / "journey.yml"


# --------------------------------------------------------------------------- the real-shop case

def test_real_shop_has_the_planted_shape(real_shop):
    ev = real_shop.events
    assert ev["customer_id"].nunique() == 3700
    assert (ev["ts"].max() - ev["ts"].min()).days in range(175, 185)
    assert 40 <= _repeat_buyers(ev) <= 55


def test_default_holdout_split_is_the_last_third_of_the_observed_days(real_shop):
    ev = real_shop.events
    first = ev.loc[ev["event"] == "purchase", "ts"].min().floor("D")
    last = ev["ts"].max().floor("D")
    cal, hold = clv.holdout_split(ev)
    days = (last - first).days
    assert hold == last
    assert cal == first + pd.Timedelta(days=round(days * 2 / 3))
    assert first < cal < last  # the old default (26 weeks before the end) fell before the first order
    assert (last - pd.Timedelta(weeks=26)) < first
    cal_q, _ = clv.holdout_split(ev, holdout_share=0.25)
    assert cal_q == first + pd.Timedelta(days=round(days * 0.75))


@pytest.mark.parametrize("given, words", [
    ("2023-06-01", "before the first purchase"),
    ("2030-01-01", "after the end of the data"),
])
def test_calibration_end_outside_the_data_names_the_range(real_shop, given, words):
    ev = real_shop.events
    first = ev.loc[ev["event"] == "purchase", "ts"].min().floor("D").date()
    last = ev["ts"].max().floor("D").date()
    for call in (lambda: clv.holdout_split(ev, given),
                 lambda: clv.customer_summary(ev, calibration_end=given)):
        with pytest.raises(JourneyParameterError, match=words) as err:
            call()
        assert f"calibration_end={given}" in str(err.value)
        assert f"from {first} to {last}" in str(err.value)


def test_gamma_gamma_on_the_real_shop_says_why_and_counts_customers(real_shop):
    ev = real_shop.events
    full = clv.customer_summary(ev, time_unit="W")
    n_repeat = _repeat_buyers(ev)
    assert int((full["frequency"] > 0).sum()) == n_repeat
    with pytest.raises(JourneyFitError) as err:
        clv.GammaGammaFitter().fit(full)
    msg = str(err.value)
    assert f"{n_repeat} repeat buyers" in msg and "ran off to the edge" in msg
    assert "What to do: pass penalizer=0.001" in msg
    # the advice works: a small penalty gives a finite spend model with a plausible mean spend
    ggf = clv.GammaGammaFitter(0.001).fit(full)
    rep = full[full["frequency"] > 0]
    mean_spend = float(rep["monetary_value"].mean())
    assert ggf.expected_spend([1], [mean_spend])[0] == pytest.approx(mean_spend, rel=0.25)


def test_bg_nbd_on_the_calibration_period_counts_repeat_customers(real_shop):
    ev = real_shop.events
    cal, hold = clv.holdout_split(ev)
    summary = clv.customer_summary(ev, calibration_end=cal, holdout_end=hold)
    n_cal_repeat = _repeat_buyers(ev, cal)
    with pytest.raises(JourneyFitError) as err:
        clv.BetaGeoFitter().fit(summary)
    assert f"{len(summary):,} customers, {n_cal_repeat:,} with repeat purchases" in str(err.value)


def test_gamma_gamma_counts_customers_not_distinct_rows():
    """Ten repeat buyers who all spent the same compress to one row: the message says 10, not 1."""
    summary = pd.DataFrame({"frequency": [1] * 10 + [0] * 5, "monetary_value": [20.0] * 10 + [np.nan] * 5})
    with pytest.raises(JourneyFitError, match=r"10 repeat buyer\(s\) with 1 distinct mean spend"):
        clv.GammaGammaFitter().fit(summary)
    two = pd.DataFrame({"frequency": [1, 2], "monetary_value": [10.0, 30.0]})
    with pytest.raises(JourneyFitError, match=r"2 repeat buyer\(s\) with 2 distinct .* at least 3 repeat buyers"):
        clv.GammaGammaFitter().fit(two)


def test_clv_advice_names_only_parameters_notebook_04_accepts(real_shop):
    accepted = set(runner.notebook_parameters(NB04))
    assert "penalizer" in accepted and "calibration_end" in accepted
    ev = real_shop.events
    full = clv.customer_summary(ev, time_unit="W")
    cal, hold = clv.holdout_split(ev)
    calib = clv.customer_summary(ev, calibration_end=cal, holdout_end=hold)
    messages = []
    for call in (lambda: clv.GammaGammaFitter().fit(full), lambda: clv.BetaGeoFitter().fit(calib),
                 lambda: clv.holdout_split(ev, "2023-01-01")):
        with pytest.raises((JourneyFitError, JourneyParameterError)) as err:
            call()
        messages.append(str(err.value))
    for msg in messages:
        advice = msg.partition("What to do:")[2]
        assert advice, msg
        named = set(re.findall(r"\b([a-z_]+)=", advice)) | set(re.findall(r"\bset ([a-z_]+) to\b", advice))
        assert named and named <= accepted, (named - accepted, msg)


# --------------------------------------------------------------------------- other variants

def test_a_few_hundred_customers(few):
    ev = few.events
    coh = cohort_table(ev, period="M")
    assert int(coh.summary["customers"].sum()) == ev.loc[ev.event == "purchase", "customer_id"].nunique()
    seg = rfm_segments(rfm_table(ev, bins=5))
    assert len(seg.summary) > 0
    full = clv.customer_summary(ev, time_unit="W")
    assert int((full["frequency"] > 0).sum()) == _repeat_buyers(ev)
    bgf = clv.BetaGeoFitter().fit(full)
    assert bgf.result_.n == len(full)


def test_a_two_month_history(short):
    ev = short.events
    first = ev.loc[ev["event"] == "purchase", "ts"].min().floor("D")
    cal, hold = clv.holdout_split(ev)
    assert first < cal < hold and (hold - cal).days == round((hold - first).days / 3)
    # nobody is old enough for a 90-day repeat window: a clear error naming the parameter
    buyers = ev.loc[ev.event == "purchase", "customer_id"].nunique()
    with pytest.raises(JourneyDataError, match=f"none of the {buyers:,} buyers .* within_days=90") as err:
        repeat_purchase(ev, within_days=90)
    assert "What to do: set within_days to" in str(err.value)
    assert int(repeat_purchase(ev, within_days=14).summary["eligible"].sum()) > 0


def test_no_revenue_column(few):
    ev = few.events.drop(columns="revenue")
    full = clv.customer_summary(ev, time_unit="W")
    assert (full["revenue_total"] == 0).all()
    with pytest.raises(JourneyDataError, match="monetary_value"):
        clv.GammaGammaFitter().fit(full)


def test_no_purchases_advice_points_to_the_journey_definition(few):
    ev = few.events.replace({"event": {"purchase": "order_paid"}})
    with pytest.raises(JourneyDataError, match=r"events: purchase: <your event name>"):
        clv.customer_summary(ev)


# --------------------------------------------------------------------------- section()

@pytest.fixture
def fresh_health(monkeypatch):
    monkeypatch.delenv(health.ENV_VAR, raising=False)
    health.reset()
    yield
    health.reset()


def test_section_shows_a_journeylib_error_in_place_and_records_it(fresh_health, capsys):
    with jl.section("Spend model") as s:
        raise JourneyFitError("Gamma-Gamma: 3 repeat buyers\nWhat to do: pass penalizer=0.001")
    assert not s and s.status == "failed"
    assert capsys.readouterr().out.strip() == "Spend model could not be computed. Gamma-Gamma: 3 repeat buyers"
    assert health.sections() == [{"name": "Spend model", "status": "failed",
                                  "reason": "Gamma-Gamma: 3 repeat buyers What to change: pass penalizer=0.001"}]
    with jl.section("Lifetime value") as later:
        later.needs("Spend model")
        raise AssertionError("not reached")
    assert later.status == "skipped" and capsys.readouterr().out.strip() == "skipped: needs Spend model"
    assert health.sections()[-1] == {"name": "Lifetime value", "status": "skipped", "reason": "needs Spend model"}
    with jl.section("Cohorts") as ok:
        ok.needs("Not run")
        value = 1
    assert ok and value == 1 and [s["name"] for s in health.sections()] == ["Spend model", "Lifetime value"]


@pytest.mark.parametrize("exc", [JourneyDataError("bad"), JourneyParameterError("bad"), JourneyFitError("bad")])
def test_section_catches_each_journeylib_error(fresh_health, exc):
    with jl.section("x") as s:
        raise exc
    assert s.status == "failed" and health.sections()[0]["reason"] == "bad"


def test_section_lets_other_exceptions_through(fresh_health):
    with pytest.raises(KeyError):
        with jl.section("x"):
            raise KeyError("a bug")
    assert health.sections() == []


def test_section_markdown_is_escaped(fresh_health, monkeypatch):
    shown = []
    monkeypatch.setattr(nbmod, "_show_md", lambda md, plain: shown.append(md))
    with jl.section("[CLV](javascript:alert(1))", advice="more data"):
        raise JourneyDataError("channel '<img src=x>' and ![x](http://e.vil/x.png) $x$")
    text = shown[0]
    assert text.startswith("**\\[CLV\\]\\(javascript\\:alert\\(1\\)\\) could not be computed.**")
    assert "\\!\\[x\\]\\(http\\:" in text and "\\$x\\$" in text and text.endswith("What to change: more data.")
    assert "\\$x\\$. What to change" in text
    md = nbmod.markdown(text).data
    assert "<img" not in md and "&lt;img src\\=x&gt;" in md


def test_health_file_gets_the_sections(fresh_health, monkeypatch, tmp_path):
    import json

    path = tmp_path / "health.json"
    monkeypatch.setenv(health.ENV_VAR, str(path))
    with jl.section("Cox model"):
        raise JourneyFitError("did not converge")
    assert json.loads(path.read_text())["sections"] == [{"name": "Cox model", "status": "failed",
                                                          "reason": "did not converge"}]


def test_setup_notebook_turns_off_mathtext_and_sets_show_ids(monkeypatch):
    import matplotlib as mpl

    from journeylib.core import privacy

    monkeypatch.delenv(privacy.ENV_VAR, raising=False)
    with mpl.rc_context():
        jl.setup_notebook(show_ids=True)
        assert mpl.rcParams["text.parse_math"] is False and privacy.show_ids()
        jl.setup_notebook(show_ids=False)
        assert not privacy.show_ids()
        with pytest.raises(JourneyParameterError, match="show_ids"):
            jl.setup_notebook(show_ids="no")


# --------------------------------------------------------------------------- notebook runs (slow)

def _markdown_outputs(ipynb: Path) -> str:
    nb = nbformat.read(ipynb, as_version=4)
    return "\n".join(o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if "text/markdown" in o.get("data", {}))


@pytest.mark.slow
def test_notebook_04_runs_to_the_end_on_the_real_shop(real_shop, tmp_path):
    journey = _write(tmp_path / "shop", real_shop.events, real_shop.customers)
    res = runner.run_notebook(NB04, {"journey": str(journey), "n_boot": 20}, tmp_path / "out",
                              new_run_folder=False)
    assert res.ok and res.status == "partial", res.error
    assert set(res.notes) == {"CLV holdout check", "CLV model comparison", "Spend model (Gamma-Gamma)"}
    md = _markdown_outputs(res.ipynb)
    assert "skipped: needs Spend model \\(Gamma\\-Gamma\\)" in md
    # the sections after the CLV ones still ran: loyalty programme and the CDNOW reference
    html = res.html.read_text()
    assert "Naively, members buy" in md and "BG/NBD on CDNOW (" in html
    # with the advised penalty every CLV section is computed
    res2 = runner.run_notebook(NB04, {"journey": str(journey), "n_boot": 20, "penalizer": 0.001,
                                      "cdnow_path": ""}, tmp_path / "out2", new_run_folder=False)
    assert res2.ok and res2.status != "partial", (res2.status, res2.notes)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["few", "short", "no_customers", "no_channel", "no_revenue"])
def test_notebooks_00_to_02_and_04_run_on_small_variants(variant, few, short, tmp_path):
    base = short if variant == "short" else few
    ev, cu, touch = base.events, base.customers, True
    if variant == "no_customers":
        cu = None
    elif variant == "no_channel":
        ev, touch = ev.drop(columns="channel"), False
    elif variant == "no_revenue":
        ev = ev.drop(columns="revenue")
    journey = _write(tmp_path / variant, ev, cu, touchpoints=touch)
    for name in ("00_journey_overview", "01_stage_attribution", "02_retention_survival", "04_loyalty_cohorts"):
        params = {"journey": str(journey)}
        if name in ("01_stage_attribution", "04_loyalty_cohorts"):
            params["n_boot"] = 20
        if name == "04_loyalty_cohorts":
            params["cdnow_path"] = ""
        res = runner.run_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", params, tmp_path / "out" / name,
                                  new_run_folder=False)
        assert res.ok and res.status != "failed", (name, res.error)
        if variant == "no_customers" and name == "02_retention_survival":
            # no segments to compare: the overall retention is among the findings at the top
            top = res.html.read_text().split("Report health")[0]
            assert re.search(r"Half of the [\d,]+ customers have churned after about [\d,]+ days|More than half of "
                             r"the [\d,]+ customers are still active", top)
        if variant == "no_revenue" and name == "04_loyalty_cohorts":
            assert "Spend model (Gamma-Gamma)" in res.notes
