"""Prepare features: derived formulas, transforms, selection (a scikit-learn Pipeline)."""

from tabloop.prepare._derive import DeriveFeatures, LogTransform
from tabloop.prepare._formula import FUNCTIONS, Formula
from tabloop.prepare._multiple import MultipleImputation
from tabloop.prepare._pipeline import prepare_pipeline
from tabloop.prepare._preprocess import FAMILIES, IMPUTATIONS, Preprocess
from tabloop.prepare._select import SelectFeatures

__all__ = [
    "DeriveFeatures",
    "FAMILIES",
    "FUNCTIONS",
    "Formula",
    "IMPUTATIONS",
    "LogTransform",
    "MultipleImputation",
    "Preprocess",
    "SelectFeatures",
    "prepare_pipeline",
]
