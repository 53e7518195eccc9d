"""Prepare features: derived formulas, transforms, selection (a scikit-learn Pipeline)."""

from tabloop.prepare._derive import DeriveFeatures, LogTransform
from tabloop.prepare._formula import FUNCTIONS, Formula
from tabloop.prepare._select import SelectFeatures

__all__ = [
    "FUNCTIONS",
    "DeriveFeatures",
    "Formula",
    "LogTransform",
    "SelectFeatures",
]
