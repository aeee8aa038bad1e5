"""A simulation never replaces a user's data: a folder with data files is refused unless asked (--force)."""
import hashlib

import pytest

import journeylib as jl
from journeylib.core.errors import JourneyParameterError
from journeylib.report import cli
from journeylib.simulate.journeys import existing_data_files, simulate_to_parquet


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("existing", ["events.parquet", "events.csv", "customers.csv", "assignments.parquet",
                                      "journey.yml", "ground_truth.json"])
def test_simulate_refuses_a_folder_with_data_files(tmp_path, capsys, existing):
    (tmp_path / existing).write_text("the user's own data\n")
    (tmp_path / "notes.txt").write_text("other files do not count\n")
    before = _digest(tmp_path)
    assert cli.main(["simulate", "--customers", "50", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"journeylib: {tmp_path} already holds data files ({existing}); expected an empty or new folder: "
                   "choose another folder, or pass overwrite=True (--force on the command line) to replace them\n")
    assert _digest(tmp_path) == before


def test_force_replaces_them_and_a_new_or_empty_folder_needs_nothing(tmp_path, capsys):
    (tmp_path / "old" / "events.parquet").parent.mkdir()
    (tmp_path / "old" / "events.parquet").write_text("stale")
    assert cli.main(["simulate", "--customers", "50", "--out", str(tmp_path / "old"), "--force"]) == 0
    assert jl.load_events(tmp_path / "old" / "events.parquet").count().to_pyarrow().as_py() > 50
    assert cli.main(["simulate", "--customers", "50", "--out", str(tmp_path / "new" / "deeper")]) == 0
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert cli.main(["simulate", "--customers", "50", "--out", str(tmp_path / "empty")]) == 0
    # a second run into the same folder is refused
    assert cli.main(["simulate", "--customers", "50", "--out", str(tmp_path / "empty")]) == 2
    assert "assignments.parquet, costs.parquet, customers.parquet, events.parquet, feedback.parquet, ground_truth.json, " \
        "journey.yml, messages.parquet" in \
        capsys.readouterr().err


def test_the_python_api_refuses_likewise(tmp_path):
    sim = jl.simulate_journeys(60, seed=3)
    sim.write(tmp_path / "a")
    with pytest.raises(JourneyParameterError, match=r"already holds data files \(assignments.parquet, costs.parquet, customers"):
        sim.write(tmp_path / "a")
    assert sim.write(tmp_path / "a", overwrite=True) == tmp_path / "a"
    with pytest.raises(JourneyParameterError, match="overwrite='yes'; expected True or False"):
        sim.write(tmp_path / "a", overwrite="yes")
    simulate_to_parquet(tmp_path / "parts", 60, chunk_customers=40, progress=False)
    with pytest.raises(JourneyParameterError, match=r"\(assignments/, costs/, customers/, events/, feedback/, ground_truth.json, journey.yml, messages/\)"):
        simulate_to_parquet(tmp_path / "parts", 60, chunk_customers=40, progress=False)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "orders.csv").write_text("order_id\n1\n")
    with pytest.raises(JourneyParameterError, match=r"already holds data files \(orders.csv\)"):
        jl.write_export(sim, "ga4", tmp_path / "export")
    jl.write_export(sim, "orders", tmp_path / "export", overwrite=True)
    assert [p.name for p in existing_data_files(tmp_path / "export")] == [
        "assignments.parquet", "customers.parquet", "ground_truth.json", "journey.yml", "messages.csv"]
    assert existing_data_files(tmp_path / "nowhere") == []
