"""Evaluate a model: metrics with confidence intervals, charts, fairness, requirements, A/B."""

from tabloop.evaluate._ab import ABReport, ab_report, batch_order
from tabloop.evaluate._evaluate import Evaluation, evaluate
from tabloop.evaluate._fairness import (
    FAIRNESS_METRICS,
    FairnessAudit,
    compare_threshold_optimizer,
    fairness_audit,
)
from tabloop.evaluate._metrics import METRICS, score_metrics
from tabloop.evaluate._paired import paired_difference
from tabloop.evaluate._requirements import Requirement, check_requirements, parse_requirement

__all__ = [
    "ABReport",
    "Evaluation",
    "FAIRNESS_METRICS",
    "FairnessAudit",
    "METRICS",
    "Requirement",
    "ab_report",
    "batch_order",
    "check_requirements",
    "compare_threshold_optimizer",
    "evaluate",
    "fairness_audit",
    "paired_difference",
    "parse_requirement",
    "score_metrics",
]
