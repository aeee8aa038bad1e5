"""Win-back targeting list and the reactivation read-out against a holdout."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.errors import JourneyDataError
from journeylib.retention.churn import churn_labels
from journeylib.retention.targeting import winback_reactivation, winback_targets


@pytest.fixture(scope="module")
def sample():
    return jl.load_dataset("sample")


@pytest.fixture(scope="module")
def res(sample):
    return winback_targets(sample.events, sample.customers, segment_by="segment")


def test_list_is_the_inactive_purchasers_ranked(res, sample):
    t = res.targets
    labels = churn_labels(sample.events, churn_after=60, gap="final")
    inactive = set(labels.loc[labels["churned"].astype(bool), "customer_id"])
    assert set(t["customer_id"]) <= inactive
    assert (t["days_inactive"] > 60).all()
    assert t["value_at_stake"].is_monotonic_decreasing and list(t["rank"]) == list(range(1, len(t) + 1))
    assert t["p_alive"].between(0, 1).all()
    # longer silence, lower P(alive) (BG/NBD): negative rank correlation
    assert t[["days_inactive", "p_alive"]].corr(method="spearman").iloc[0, 1] < 0


def test_csv_pseudonymised_by_default(res, tmp_path):
    path = res.to_csv(tmp_path / "targets.csv")
    out = pd.read_csv(path)
    assert len(out) == len(res.targets)
    assert not out["customer_id"].isin(res.targets["customer_id"]).any()
    assert out["customer_id"].str.startswith("cust-").all()
    real = pd.read_csv(res.to_csv(tmp_path / "real.csv", show_ids=True))
    assert list(real["customer_id"]) == list(res.targets["customer_id"])


def test_reactivation_against_holdout_recovers_planted_rates():
    rng = np.random.default_rng(7)
    n = 4000
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    ids = [f"w{i}" for i in range(n)]
    holdout = rng.random(n) < 0.5
    p = np.where(holdout, 0.05, 0.12)
    back = rng.random(n) < p
    assign = pd.DataFrame({"customer_id": ids, "experiment": "winback_may",
                           "variant": np.where(holdout, "holdout", "email"), "assigned_at": t0})
    ts = (t0 + pd.to_timedelta(rng.uniform(1, 29, n), unit="D")).floor("s")
    ev = pd.DataFrame({"customer_id": np.array(ids)[back], "ts": ts[back], "event": "purchase"})
    ev = pd.concat([ev, pd.DataFrame({"customer_id": ["w0"], "ts": [t0 + pd.Timedelta(days=90)],
                                      "event": ["landing"]})], ignore_index=True)
    r = winback_reactivation(ev, assign, experiment="winback_may")
    g = r.summary.set_index("group")
    assert g.loc["targeted", "ci_low"] <= 0.12 <= g.loc["targeted", "ci_high"]
    assert g.loc["holdout", "ci_low"] <= 0.05 <= g.loc["holdout", "ci_high"]
    lo, hi = r.confidence_interval()
    assert lo <= 0.07 <= hi and r.pvalue < 1e-6
    k = g["reactivated"].to_numpy()
    m = g["customers"].to_numpy()
    from statsmodels.stats.proportion import proportions_ztest
    z, pv = proportions_ztest(k, m)
    assert r.statistic == pytest.approx(z) and r.pvalue == pytest.approx(pv)


def test_unknown_experiment(sample):
    with pytest.raises(JourneyDataError, match="no rows of experiment"):
        winback_reactivation(sample.events, sample.assignments, experiment="nope")
