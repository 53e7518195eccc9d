"""The request formats the service reads: its own ``/predict`` and ``/outcomes`` bodies,
MLflow's ``/invocations`` (``_invocations``) and the Open Inference Protocol v2 tensors
(``_tensors``), each parsed into the same rows; ``_routes`` adds the MLflow and ``/v2`` routes,
which call the one prediction path (``serve/_predict.py``).
"""

from tabloop.serve.protocols._requests import OutcomesRequest, PredictRequest, StrictJSONRoute
from tabloop.serve.protocols._routes import add_protocol_routes

__all__ = ["OutcomesRequest", "PredictRequest", "StrictJSONRoute", "add_protocol_routes"]
