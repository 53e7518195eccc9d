"""Seeded scenario generators for the product's situations, each with documented ground truth."""

from tabloop.examples._spend import CUSTOMER_SPEND_TRUTH, customer_spend
from tabloop.examples._stops import TRAFFIC_STOPS_TRUTH, traffic_stops
from tabloop.examples._treatment import TREATMENT_MISSING, TREATMENT_TRUTH, treatment_outcomes

__all__ = [
    "CUSTOMER_SPEND_TRUTH",
    "TRAFFIC_STOPS_TRUTH",
    "TREATMENT_MISSING",
    "TREATMENT_TRUTH",
    "customer_spend",
    "traffic_stops",
    "treatment_outcomes",
]
