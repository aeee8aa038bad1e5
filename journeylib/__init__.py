"""journeylib: customer-journey analytics (funnels, attribution, survival, A/B tests, loyalty).

``import journeylib as jl`` gives every analysis at the top level (``jl.funnel``,
``jl.kaplan_meier``, ``jl.ab_readout``, ``jl.rfm_table``, ...); the same functions live
in their family: ``jl.journeys``, ``jl.retention``, ``jl.experiments``, ``jl.loyalty``,
with ``jl.core`` (loading, engine, errors), ``jl.report`` and ``jl.simulate`` beside them.

A family is imported the first time one of its names is used, so ``import journeylib``
and the command line start fast; ``jl.<name>`` is always the family's own object.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# searched in this order; a family's __all__ is its public API
_FAMILIES = ("core", "journeys", "retention", "experiments", "loyalty", "simulate")
_FROM_REPORT = ("setup_notebook", "section", "show_table", "show_findings", "show_note", "pseudonymize", "record")  # not run_notebook/run_all: they load papermill


def _family(name: str):
    return importlib.import_module(f".{name}", __name__)


def __getattr__(name: str) -> Any:
    if name in (*_FAMILIES, "report"):
        return _family(name)
    if name == "__all__":
        names = [*_FAMILIES, "report"]
        for fam in _FAMILIES:
            names += [n for n in _family(fam).__all__ if n not in names]
        names += [n for n in _FROM_REPORT if n not in names]
        globals()["__all__"] = names
        return names
    if name.startswith("__"):
        raise AttributeError(name)
    owner = "report" if name in _FROM_REPORT else next(
        (fam for fam in _FAMILIES if name in _family(fam).__all__), None)
    if owner is None:
        raise AttributeError(f"module 'journeylib' has no attribute {name!r}")
    value = globals()[name] = getattr(_family(owner), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__getattr__("__all__")))
