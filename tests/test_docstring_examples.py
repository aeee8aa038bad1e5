"""The ``Examples`` sections of the API docstrings run and print what they say.

The API reference (docs/api/*.md, mkdocstrings) shows these examples to a newcomer; each
module's doctests run here on the bundled sample (``data/sample``, read from the repository
root as the examples write it) or a tiny simulated log.
"""
import doctest
import importlib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MODULES = [
    "journeylib.core.buckets",
    "journeylib.core.draft",
    "journeylib.core.errors",
    "journeylib.core.health",
    "journeylib.core.plots",
    "journeylib.core.validation_cache",
    "journeylib.journeys.compare",
    "journeylib.loyalty.clv",
    "journeylib.core.checks",
    "journeylib.core.display",
    "journeylib.core.engine",
    "journeylib.core.intervals",
    "journeylib.core.journey",
    "journeylib.core.load",
    "journeylib.core.privacy",
    "journeylib.core.readers",
    "journeylib.core.result",
    "journeylib.core.time",
    "journeylib.experiments.bayes",
    "journeylib.experiments.plots",
    "journeylib.experiments.power",
    "journeylib.experiments.readout",
    "journeylib.experiments.sequential",
    "journeylib.experiments.statistics",
    "journeylib.journeys.attribution",
    "journeylib.journeys.budget",
    "journeylib.journeys.calibration",
    "journeylib.journeys.carts",
    "journeylib.journeys.common",
    "journeylib.journeys.feedback",
    "journeylib.journeys.journey_map",
    "journeylib.journeys.messages",
    "journeylib.journeys.overview",
    "journeylib.journeys.paths",
    "journeylib.journeys.stages",
    "journeylib.journeys.timing",
    "journeylib.loyalty.cohorts",
    "journeylib.loyalty.programme",
    "journeylib.loyalty.rfm",
    "journeylib.report.cli",
    "journeylib.report.html",
    "journeylib.report.notebook",
    "journeylib.report.privacy",
    "journeylib.report.runner",
    "journeylib.journeys.plots",
    "journeylib.loyalty.plots",
    "journeylib.retention.churn",
    "journeylib.retention.competing",
    "journeylib.retention.plots",
    "journeylib.retention.survival",
    "journeylib.retention.targeting",
    "journeylib.retention.winback",
    "journeylib.simulate.datasets",
    "journeylib.simulate.exports",
    "journeylib.simulate.journeys",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples read data/sample/... relative to the repository root
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        # the sample's planted sample-ratio mismatch and the segment caution warn by design
        warnings.simplefilter("ignore")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                 report=True)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"


def test_every_public_function_has_an_example():
    """Every public function and class of these modules documents Parameters/Returns and an example."""
    import inspect

    missing = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = inspect.getdoc(obj) or ""
            if "Examples\n--------" not in doc:
                missing.append(f"{name}.{attr}: no Examples")
            if inspect.isfunction(obj) and "Returns\n-------" not in doc and "Yields\n------" not in doc:
                missing.append(f"{name}.{attr}: no Returns")
            if inspect.isfunction(obj) and inspect.signature(obj).parameters and "Parameters\n----------" not in doc:
                missing.append(f"{name}.{attr}: no Parameters")
    assert not missing, "\n".join(missing)
