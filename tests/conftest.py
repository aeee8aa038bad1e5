"""Shared fixtures: a seeded rng, small simulated data, figures closed after each test."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import journeylib as jl  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _validation_cache(tmp_path_factory):
    """Validation results are cached per session in a temporary folder, never in ~/.cache."""
    import os

    from journeylib.core import validation_cache

    os.environ[validation_cache.ENV_VAR] = str(tmp_path_factory.mktemp("validation_cache"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def small_sim() -> jl.SimulatedData:
    """1,500 simulated customers (about 17k events): quick, with ground truth."""
    return jl.simulate_journeys(1500, seed=7)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory, small_sim):
    """Folder with the small simulated dataset written as Parquet (a ``data_dir``)."""
    return small_sim.write(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def sample() -> jl.Dataset:
    """The bundled 5,000-customer sample (data/sample) with its ground truth."""
    return jl.load_dataset("sample")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(params=["csv", "parquet"])
def differing_files(request, tmp_path) -> Path:
    """A folder of two monthly event files whose columns come in another order, the second adding revenue."""
    folder = tmp_path / "events"
    folder.mkdir()
    jan = pd.DataFrame({"customer_id": ["a", "b"], "ts": ["2025-01-05 10:00", "2025-01-06 10:00"],
                        "event": ["landing", "landing"]})
    feb = pd.DataFrame({"event": ["purchase"], "revenue": [12.5], "ts": ["2025-02-05 10:00"], "customer_id": ["a"]})
    for name, df in (("2025-01", jan), ("2025-02", feb)):
        if request.param == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet")
    return folder
