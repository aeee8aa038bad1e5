"""Journeys: funnels, stage transitions, paths, channel and stage attribution, the journey map, feedback.

``journeys`` (one row per journey) is left out of ``__all__``: at the top level
``jl.journeys`` is this family, so the table is ``jl.journeys.journeys``.
"""
from .carts import abandoned_carts, cart_recovery_readout
from .feedback import feedback_by_group, nps, referrals, review_rates
from .messages import message_engagement, message_events, message_readout
from .calibration import calibrate_attribution, holdout_experiments
from .journey_map import journey_map
from .attribution import attribute, markov_removal_effects, shapley_values, stage_attribution
from .budget import channel_budget
from .compare import compare_periods, compare_segments
from .overview import channel_summary, data_summary, monthly_activity
from .paths import journeys, path_lengths, path_table, sankey_data, time_to_convert, top_paths
from .stages import funnel, journey_map_data, stage_transitions
from .timing import stage_reach_times, time_to_next_stage

__all__ = ["funnel", "stage_transitions", "journey_map_data", "path_table", "top_paths",
           "path_lengths", "time_to_convert", "sankey_data", "attribute", "stage_attribution",
           "markov_removal_effects", "shapley_values", "data_summary", "channel_summary", "monthly_activity",
           "time_to_next_stage", "stage_reach_times", "journey_map", "nps", "review_rates", "referrals",
           "abandoned_carts", "message_engagement", "channel_budget", "feedback_by_group",
           "compare_periods", "compare_segments",
           "message_events", "message_readout", "calibrate_attribution", "holdout_experiments", "cart_recovery_readout"]
