"""Retention: churn labels (the one definition of churn), survival curves and models, win-back."""
from .churn import churn_labels, churn_overview, first_order_value, winback_rates
from .survival import cox, kaplan_meier, logrank, membership_effect

__all__ = ["churn_labels", "churn_overview", "first_order_value", "winback_rates", "kaplan_meier", "logrank",
           "cox", "membership_effect"]
