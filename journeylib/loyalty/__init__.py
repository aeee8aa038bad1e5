"""Loyalty: cohorts, repeat purchase, RFM, customer lifetime value, the loyalty-programme effect."""
from .clv import (BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter, calibration_holdout,
                  clv_bootstrap, compare_models, customer_lifetime_value, customer_summary)
from .cohorts import cohort_table, repeat_purchase
from .programme import loyalty_effect
from .rfm import rfm_migration, rfm_segments, rfm_table

__all__ = ["cohort_table", "repeat_purchase", "rfm_table", "rfm_segments", "rfm_migration", "customer_summary",
           "BetaGeoFitter", "GammaGammaFitter", "customer_lifetime_value", "clv_bootstrap", "calibration_holdout",
           "loyalty_effect", "ModifiedBetaGeoFitter", "ParetoNBDFitter", "compare_models"]
