"""journeylib: customer-journey analytics (funnels, attribution, survival, A/B tests, loyalty).

``import journeylib as jl`` gives every analysis at the top level (``jl.funnel``,
``jl.kaplan_meier``, ``jl.ab_readout``, ``jl.rfm_table``, ...); the same functions live
in their family: ``jl.journeys``, ``jl.retention``, ``jl.experiments``, ``jl.loyalty``,
with ``jl.core`` (loading, engine, errors), ``jl.report`` and ``jl.simulate`` beside them.
"""
from .core import *  # noqa: F401,F403
from .experiments import *  # noqa: F401,F403
from .journeys import *  # noqa: F401,F403
from .loyalty import *  # noqa: F401,F403
from .report import pseudonymize, record, setup_notebook  # not run_notebook/run_all: they load papermill
from .retention import *  # noqa: F401,F403
from .simulate import *  # noqa: F401,F403

# last, so a function that shares a family's name (journeys.journeys) never hides the family
from . import core, experiments, journeys, loyalty, report, retention, simulate  # noqa: E402

__version__ = "0.1.0"

__all__ = ["core", "journeys", "retention", "experiments", "loyalty", "report", "simulate",
           *core.__all__, *journeys.__all__, *retention.__all__, *experiments.__all__, *loyalty.__all__,
           "setup_notebook", "pseudonymize", "record", *simulate.__all__]
