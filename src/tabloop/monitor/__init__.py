"""Monitor a served model: drift, realised and estimated performance, fairness, requirements.

:func:`monitor` reads the prediction log (or a file) and the model package and returns a
:class:`MonitorReport`; the building blocks are public for use on any two frames.
"""

from tabloop.data import ReferenceProfile
from tabloop.monitor._drift import ColumnDrift, DriftReport, drift_report
from tabloop.monitor._estimated import estimated_by_chunk, estimated_performance
from tabloop.monitor._monitor import MonitorReport, monitor
from tabloop.monitor._multivariate import domain_classifier
from tabloop.monitor._performance import encode_labels
from tabloop.monitor._push import push_verdicts
from tabloop.monitor._requirements import check_production

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "MonitorReport",
    "ReferenceProfile",
    "check_production",
    "domain_classifier",
    "drift_report",
    "encode_labels",
    "estimated_by_chunk",
    "estimated_performance",
    "monitor",
    "push_verdicts",
]
