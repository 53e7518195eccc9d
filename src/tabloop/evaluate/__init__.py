"""Evaluate a model: metrics with confidence intervals, charts, fairness, requirements, A/B."""

from tabloop.evaluate._ab import ABReport, ab_report
from tabloop.evaluate._ab_fit import batch_order
from tabloop.evaluate._ab_segments import SegmentShares, segment_shares
from tabloop.evaluate._cells import (
    CHUNK_CELLS,
    MAX_CELLS,
    compact,
    count_cells,
    merge_cells,
    realised_from_cells,
    score_bins,
)
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
    "CHUNK_CELLS",
    "Evaluation",
    "FAIRNESS_METRICS",
    "FairnessAudit",
    "MAX_CELLS",
    "METRICS",
    "Requirement",
    "SegmentShares",
    "ab_report",
    "batch_order",
    "check_requirements",
    "compact",
    "compare_threshold_optimizer",
    "count_cells",
    "evaluate",
    "fairness_audit",
    "merge_cells",
    "paired_difference",
    "parse_requirement",
    "realised_from_cells",
    "score_bins",
    "score_metrics",
    "segment_shares",
]
