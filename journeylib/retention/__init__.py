"""Retention: churn labels (the one definition of churn), survival curves and models, win-back.

* :mod:`.churn` — the churn rule in the engine: :func:`churn_labels` (one row per
  customer), :func:`churn_counts` (the Kaplan-Meier sufficient statistic),
  :func:`churn_overview`, :func:`first_order_value`.
* :mod:`.survival` — the stats half: :func:`kaplan_meier`, :func:`logrank`, :func:`cox`,
  :func:`membership_effect` (immortal-time-safe programme effect), ``against_truth``.
* :mod:`.winback` — :func:`winback_rates`: how many inactive customers come back.
* :mod:`.competing` — competing exits (churn, downgrade, pause): :func:`cumulative_incidence`
  (Aalen-Johansen, with bands) and :func:`compare_incidence` (groups compared at fixed horizons).
* :mod:`.targeting` — :func:`winback_targets` (whom to win back, by value at stake) and
  :func:`winback_reactivation` (a win-back campaign against its holdout).
* :mod:`.plots` — every drawing of the family.
"""
from .churn import churn_counts, churn_labels, churn_overview, first_order_value
from .survival import (CoxResult, KaplanMeierResult, LogRankResult, MembershipEffect, cox, kaplan_meier, logrank,
                       membership_effect)
from .winback import WinbackResult, winback_rates
from .targeting import ReactivationResult, WinbackTargets, winback_reactivation, winback_targets
from .competing import (CumulativeIncidenceResult, IncidenceComparison, compare_incidence, cumulative_incidence,
                        exits_from_events)

# the functions reach the top level (jl.kaplan_meier); the result classes stay in the family
__all__ = ["churn_labels", "churn_counts", "churn_overview", "first_order_value", "winback_rates", "kaplan_meier",
           "logrank", "cox", "membership_effect", "cumulative_incidence", "compare_incidence", "exits_from_events",
           "winback_targets", "winback_reactivation"]
