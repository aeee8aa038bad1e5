"""Simulator: deterministic for a seed, and its output matches its own ground truth."""
import json

import numpy as np
import pandas as pd
import pytest

import journeylib as jl
from journeylib.core.locations import SAMPLE_DIR


@pytest.fixture(scope="module")
def big():
    return jl.simulate_journeys(8000, seed=11)


def test_same_seed_same_data_different_seed_different_data(small_sim):
    again = jl.simulate_journeys(1500, seed=7)
    pd.testing.assert_frame_equal(small_sim.events, again.events)
    pd.testing.assert_frame_equal(small_sim.customers, again.customers)
    pd.testing.assert_frame_equal(small_sim.assignments, again.assignments)
    assert not jl.simulate_journeys(1500, seed=8).events.equals(small_sim.events)


def test_output_passes_validation(small_sim):
    ev = jl.load_events(small_sim.events, stages=jl.DEFAULT_STAGES)
    assert ev.count().execute() == len(small_sim.events)
    jl.load_customers(small_sim.customers)
    jl.load_assignments(small_sim.assignments)


def test_acquisition_channel_shares_match_truth(big):
    truth = big.ground_truth["channels"]["acquisition_share"]
    share = big.customers["acquisition_channel"].value_counts(normalize=True)
    n = len(big.customers)
    for ch, p in truth.items():
        assert abs(share[ch] - p) < 4 * np.sqrt(p * (1 - p) / n), ch


def test_segment_shares_match_truth(big):
    share = big.customers["segment"].value_counts(normalize=True)
    for seg, p in big.ground_truth["segments"]["share"].items():
        assert abs(share[seg] - p) < 4 * np.sqrt(p * (1 - p) / len(big.customers))


def test_mean_order_value_matches_gamma_gamma_truth(big):
    rev = big.events.loc[big.events["event"] == "purchase", "revenue"]
    truth = big.ground_truth["spend"]["mean_order_value"]
    # heavy-tailed per-customer means: allow 6% (many thousand orders)
    assert abs(rev.mean() / truth - 1) < 0.06


def test_journeys_go_back_to_earlier_stages(small_sim):
    ev = small_sim.events.dropna(subset=["stage"])
    rank = ev["stage"].map({s: i for i, s in enumerate(jl.DEFAULT_STAGES)})
    back = (rank.groupby(ev["customer_id"]).diff() < 0).groupby(ev["customer_id"]).any()
    assert 0.2 < back.mean() < 0.9


def test_srm_is_planted_and_other_splits_are_balanced(big):
    counts = big.assignments.groupby(["experiment", "variant"]).size()
    lost = big.ground_truth["experiments"]["email_send_time"]["srm_lost_share_of_morning"]
    ratio = counts["email_send_time"]["morning"] / counts["email_send_time"]["control"]
    assert abs(ratio - (1 - lost)) < 0.08
    offer = counts["personalised_offer"]
    assert abs(offer["treatment"] / offer.sum() - 0.5) < 0.05


def test_loyalty_members_self_select_on_purchase_rate(big):
    ev, cu = big.events, big.customers
    orders = ev[ev["event"] == "purchase"].groupby("customer_id").size()
    buyers = cu[cu["customer_id"].isin(orders.index)].set_index("customer_id")
    per_member = orders.reindex(buyers.index).groupby(buyers["loyalty_member"]).mean()
    assert per_member[True] > 1.5 * per_member[False]


def test_sorted_with_documented_tie_order(small_sim):
    ev = small_sim.events
    resorted = ev.sort_values(["customer_id", "ts", "event", "channel", "stage"], na_position="first",
                              kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(ev, resorted)
    assert (ev["ts"] < pd.Timestamp(small_sim.ground_truth["observation_end"])).all()


def test_bundled_sample_is_the_documented_simulation():
    truth = json.loads((SAMPLE_DIR / "ground_truth.json").read_text())
    assert truth["seed"] == 42 and truth["n_customers"] == 5000
    assert truth["channel_holdout"]["experiment"] == "email_holdout"  # make data: --channel-holdout email
    regenerated = jl.simulate_journeys(5000, seed=42, channel_holdout="email")
    bundled = pd.read_parquet(SAMPLE_DIR / "events.parquet")
    assert len(bundled) == len(regenerated.events)
    assert bundled["revenue"].sum() == pytest.approx(regenerated.events["revenue"].sum())


def test_chunked_simulation_is_partitioned_by_month_and_loads_as_one_dataset(tmp_path):
    from journeylib.simulate.journeys import simulate_to_parquet

    simulate_to_parquet(tmp_path, 900, chunk_customers=400, progress=False)
    assert len(list((tmp_path / "customers").glob("*.parquet"))) == 3
    months = {p.name for p in (tmp_path / "events").iterdir()}
    assert "month=2024-01" in months and "month=2025-06" in months
    data = jl.load_dataset(tmp_path)
    assert data.customers.count().execute() == 900
    assert data.events.customer_id.nunique().execute() == 900  # ids continue across chunks
    parts = [jl.simulate_journeys(400, seed=42), jl.simulate_journeys(400, seed=43, id_offset=400),
             jl.simulate_journeys(100, seed=44, id_offset=800)]
    assert data.events.count().execute() == sum(len(p.events) for p in parts)


def test_a_customer_count_that_is_not_a_positive_whole_number_is_refused(tmp_path):
    from journeylib.core.errors import JourneyParameterError
    from journeylib.simulate.journeys import simulate_to_parquet

    for bad in (0, -5, 2.5, "10"):
        with pytest.raises(JourneyParameterError, match="n_customers"):
            jl.simulate_journeys(bad)
    with pytest.raises(JourneyParameterError, match="n_customers"):
        simulate_to_parquet(tmp_path / "x", -1)
    assert not (tmp_path / "x").exists()  # refused before any folder is made


def test_the_sample_dataset_carries_its_inputs_and_checks_for_the_health_panel(sample):
    import pyarrow.parquet as pq

    from journeylib.core.load import content_hash

    tables = ("events", "customers", "assignments", "feedback", "messages", "costs")
    rows = {t: pq.ParquetFile(SAMPLE_DIR / f"{t}.parquet").metadata.num_rows for t in tables}
    assert [(i.table, i.source, i.rows) for i in sample.inputs] == [
        (t, f"sample/{t}.parquet", rows[t]) for t in tables]
    assert [i.sha256 for i in sample.inputs] == [content_hash(SAMPLE_DIR / f"{t}.parquet") for t in rows]
    assert all(i.validation in ("checked", "reused") and i.duplicates_dropped == 0 and i.future_rows == 0
               for i in sample.inputs)
    assert [(c.name, c.status) for c in sample.checks] == [(f"{t}: validated", "pass") for t in tables] + [
        ("costs: periods without spend rows", "pass")]
    assert str(SAMPLE_DIR) not in repr([i.source for i in sample.inputs])  # no machine path in the panel


def test_a_folder_without_optional_tables_lists_only_its_events(tmp_path, small_sim):
    small_sim.events.to_csv(tmp_path / "events.csv", index=False)
    data = jl.load_dataset(tmp_path)
    assert [(i.table, i.source, i.rows) for i in data.inputs] == [
        ("events", str(tmp_path.resolve() / "events.csv"), len(small_sim.events))]
    assert data.customers is None and data.assignments is None and len(data.checks) == 1


def test_simulated_data_carries_its_journey_definition(tmp_path, small_sim):
    """The bundled sample's journey.yml is what the simulator writes; partitioned output gets one too."""
    from journeylib.simulate.journeys import journey_yml, simulate_to_parquet

    assert (SAMPLE_DIR / "journey.yml").read_text() == journey_yml(messages="messages.parquet", costs="costs.parquet")
    small_sim.write(tmp_path / "flat")
    flat = jl.load_journey(tmp_path / "flat" / "journey.yml")
    assert flat.events.count().execute() == len(small_sim.events)
    simulate_to_parquet(tmp_path / "parts", 900, chunk_customers=400, progress=False)
    parts = jl.load_journey(tmp_path / "parts" / "journey.yml")
    assert parts.customers.count().execute() == 900
    assert parts.events.count().execute() == jl.load_dataset(tmp_path / "parts").events.count().execute()
