"""Experiments: per-variant sufficient statistics, tests, power, sequential and Bayesian read-outs."""
from .bayes import beta_binomial, normal_posterior
from .power import achieved_power, mde_means, mde_proportions, sample_size_means, sample_size_proportions
from .readout import ab_readout, readout_from_stats, segment_breakdown, variant_stats
from .statistics import srm_test

__all__ = ["ab_readout", "variant_stats", "readout_from_stats", "segment_breakdown", "srm_test",
           "sample_size_means", "sample_size_proportions", "mde_means", "mde_proportions", "achieved_power",
           "beta_binomial", "normal_posterior"]
