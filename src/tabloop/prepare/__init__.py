"""Prepare features: derived formulas, transforms, selection (a scikit-learn Pipeline).

Every step also carries a numpy replay of its ``transform`` (``step.compile_replay``), for
the service's small requests; :class:`Block`, :class:`RequestColumns`, :class:`Unclean`
and :class:`Unsupported` are its vocabulary (see ``tabloop/prepare/_replay.py``).
"""

from tabloop.prepare._derive import DeriveFeatures, LogTransform
from tabloop.prepare._formula import FUNCTIONS, Formula
from tabloop.prepare._lags import LagFeatures
from tabloop.prepare._missing import MissingValues
from tabloop.prepare._multiple import MultipleImputation
from tabloop.prepare._pipeline import missing_values_step, prepare_pipeline
from tabloop.prepare._preprocess import FAMILIES, IMPUTATIONS, Preprocess
from tabloop.prepare._replay import Block, RequestColumns, Unclean, Unsupported
from tabloop.prepare._select import SelectFeatures
from tabloop.prepare._text import EncodeText

__all__ = [
    "Block",
    "DeriveFeatures",
    "EncodeText",
    "FAMILIES",
    "FUNCTIONS",
    "Formula",
    "IMPUTATIONS",
    "LagFeatures",
    "LogTransform",
    "MissingValues",
    "MultipleImputation",
    "Preprocess",
    "RequestColumns",
    "SelectFeatures",
    "Unclean",
    "Unsupported",
    "missing_values_step",
    "prepare_pipeline",
]
