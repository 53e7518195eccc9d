"""Register trained models in MLflow, move aliases, and predict with a registered model."""

from tabloop.registry._batch import predict_file
from tabloop.registry._monitor_run import log_monitor, monitor_metrics
from tabloop.registry._package import ModelPackage, load_package
from tabloop.registry._predict import load_model, predict
from tabloop.registry._registry import (
    CHALLENGER,
    CHAMPION,
    RegisteredVersion,
    list_versions,
    promote,
    register,
    resolve_model_uri,
    rollback,
)
from tabloop.registry._tracking import quiet_mlflow, tracking_uri
from tabloop.registry._verdicts import MonitorFigures, monitor_figures

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ModelPackage",
    "MonitorFigures",
    "RegisteredVersion",
    "list_versions",
    "load_model",
    "load_package",
    "log_monitor",
    "monitor_figures",
    "monitor_metrics",
    "predict",
    "predict_file",
    "promote",
    "quiet_mlflow",
    "register",
    "resolve_model_uri",
    "rollback",
    "tracking_uri",
]
