"""Retrain and promote: a challenger from original plus labelled production rows, compared
with the champion on the newest held-out rows, promoted only with evidence."""

from tabloop.retrain._assemble import RetrainData, assemble
from tabloop.retrain._retrain import RetrainResult, compare, retrain

__all__ = ["RetrainData", "RetrainResult", "assemble", "compare", "retrain"]
