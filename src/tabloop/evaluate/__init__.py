"""Evaluate a trained model: metrics with confidence intervals, charts, fairness, requirements."""

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
    "Evaluation",
    "FAIRNESS_METRICS",
    "FairnessAudit",
    "METRICS",
    "Requirement",
    "check_requirements",
    "compare_threshold_optimizer",
    "evaluate",
    "fairness_audit",
    "paired_difference",
    "parse_requirement",
    "score_metrics",
]
