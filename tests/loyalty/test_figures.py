"""Issue 23: loyalty figures that do not mislead (04): no truncated y-axis, a cohort heat map whose colour
scale is not swamped by period 0, an average cohort curve that fades where few cohorts are old enough,
no clipped histogram spike, titles that state the finding."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import journeylib as jl  # noqa: E402
from journeylib.loyalty import plots  # noqa: E402
from journeylib.loyalty.clv import BetaGeoFitter, calibration_holdout, customer_summary, holdout_split  # noqa: E402
from journeylib.loyalty.cohorts import cohort_table, repeat_purchase  # noqa: E402
from journeylib.loyalty.programme import loyalty_effect  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    return jl.simulate_journeys(3000, seed=2)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_cohort_heatmap_leaves_period_0_blank_and_scales_to_later_periods(sim):
    coh = cohort_table(sim.events, period="M")
    ax = plt.subplots()[1]
    coh.plot(ax=ax, kind="retention")
    mesh = ax.collections[0]
    later = coh.retention.drop(columns=0)
    # the colour scale runs from 0 to the largest later-period share, not to period 0's 100%
    assert mesh.norm.vmin == 0 and mesh.norm.vmax == pytest.approx(float(np.nanmax(later.to_numpy(float))))
    assert mesh.norm.vmax < 1
    # period 0 is masked (blank) in every cohort
    arr = np.ma.masked_invalid(mesh.get_array()).reshape(coh.retention.shape)
    assert np.ma.getmaskarray(arr)[:, 0].all()
    avg = coh.average_retention().set_index("period")
    assert ax.get_title().startswith(f"{avg.loc[1, 'retention']:.0%} of a cohort buys in month 1")


def test_average_cohort_curve_fades_where_fewer_than_three_cohorts_are_old_enough(sim):
    coh = cohort_table(sim.events, period="M")
    ax = plt.subplots()[1]
    coh.plot_curves(ax=ax)
    lines = {l.get_label(): l for l in ax.get_lines()}
    solid, faded = lines["weighted average"], lines[f"average of fewer than {plots.MIN_COHORTS} cohorts"]
    avg = coh.average_retention()
    assert list(solid.get_xdata()) == list(avg.loc[avg["cohorts"] >= 3, "period"])
    assert min(faded.get_xdata()) == max(solid.get_xdata()) and faded.get_alpha() < 1
    assert ax.get_ylim()[0] == 0


def test_rate_and_prediction_axes_start_at_zero(sim):
    loy = loyalty_effect(sim.events, sim.customers, window_days=90, seed=1, covariates=["segment"])
    ax = plt.subplots()[1]
    loy.plot_rates(ax=ax)
    assert ax.get_ylim()[0] == 0
    split, end = holdout_split(sim.events)
    cal = customer_summary(sim.events, calibration_end=split, holdout_end=end, time_unit="W")
    chk = calibration_holdout(cal, BetaGeoFitter().fit(cal))
    ax = plt.subplots()[1]
    chk.plot(ax=ax)
    assert ax.get_ylim()[0] == 0
    assert f"predicts {chk.total_predicted:,.0f} purchase days, customers made {chk.total_actual:,.0f}" in ax.get_title()
    rep = repeat_purchase(sim.events)
    ax = plt.subplots()[1]
    rep.plot_time_to_second(ax=ax)
    assert ax.get_ylim()[0] == 0


def test_clv_histogram_leaves_the_top_percent_out_instead_of_piling_it_up():
    class Boot:  # the attributes plot_clv_distribution reads
        confidence_level = 0.95

    import pandas as pd
    v = pd.Series(np.r_[np.linspace(0, 100, 990), np.full(10, 10_000.0)])
    Boot.per_customer = pd.DataFrame({"clv": v})
    Boot.total = (v.sum(), v.sum() * 0.9, v.sum() * 1.1)
    ax = plt.subplots()[1]
    plots.plot_clv_distribution(Boot, ax=ax)
    heights = np.array([p.get_height() for p in ax.containers[0]])  # the histogram bars
    assert heights.sum() == (v <= v.quantile(0.99)).sum()
    # no spike: the last bar is no taller than the typical bar (clipping piled the top 1% into it)
    assert heights[-1] <= np.median(heights) + 1
    assert "not shown" in ax.get_xlabel() and ax.get_title().startswith(f"An average customer is worth {v.mean():,.1f}")


def test_cohort_curves_carry_wilson_bands_and_the_average_stops_where_customers_are_few(sim):
    from matplotlib.collections import PolyCollection
    from statsmodels.stats.proportion import proportion_confint

    coh = cohort_table(sim.events, period="M")
    ax = plt.subplots()[1]
    plots.plot_cohort_curves(coh, ax=ax, max_cohorts=6, min_at_risk=1)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    cohorts = [l for l in ax.get_lines() if not l.get_label().startswith(("weighted", "average of"))]
    assert len(cohorts) == 6 and len(bands) == 6 + 1  # one band per cohort curve, one for the average
    # a cohort's band is the Wilson interval of each cell (independent: statsmodels)
    cells = coh.cells[(coh.cells["cohort"] == cohorts[0].get_label()) & coh.cells["observed"]].sort_values("period")
    lo, hi = proportion_confint(cells["active"], cells["size"], alpha=0.05, method="wilson")
    band = next(b for b in bands if np.allclose(b.get_facecolor()[0][:3], cohorts[0].get_color()[:3]))
    v = band.get_paths()[0].vertices
    top = {x: y for x, y in v if x in set(cells["period"])}
    for p, h, l in zip(cells["period"], hi, lo):
        ys = v[v[:, 0] == p, 1]
        assert np.isclose(ys.max(), h) and np.isclose(ys.min(), l), p
    assert top and "95% bands" in ax.get_title()
    # the average (and its band) stops before the first age seen on fewer than min_at_risk customers
    avg = coh.average_retention()
    threshold = int(avg["customers"].iloc[len(avg) // 2])
    first_thin = int(avg.loc[avg["customers"] < threshold, "period"].min())
    ax = plt.subplots()[1]
    plots.plot_cohort_curves(coh, ax=ax, min_at_risk=threshold)
    avg_lines = [l for l in ax.get_lines() if l.get_label().startswith(("weighted", "average of"))]
    assert max(max(l.get_xdata()) for l in avg_lines) == first_thin - 1
    avg_band = [b for b in ax.collections if isinstance(b, PolyCollection) and b.get_label().endswith("average")]
    assert len(avg_band) == 1 and avg_band[0].get_paths()[0].vertices[:, 0].max() == first_thin - 1
    drawn = [l.get_label() for l in ax.get_lines() if l not in avg_lines]
    sizes = coh.cells.groupby("cohort")["size"].first()
    assert all(sizes[c] >= threshold for c in drawn)  # cohorts smaller than the threshold are not drawn
    assert f"curves stop below {threshold} customers" in ax.get_title()
