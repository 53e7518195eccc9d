"""Train models: the model zoo, cross-validation, tuning, ensembling and decision thresholds."""

from tabloop.train._baseline import BaselineCheck
from tabloop.train._model import Member, TabloopModel
from tabloop.train._run import TrainRun, train_and_register
from tabloop.train._train import TrainResult, train
from tabloop.train._zoo import DEFAULT_MODELS, ZOO, CatBoostModel, build_model

__all__ = [
    "BaselineCheck",
    "CatBoostModel",
    "DEFAULT_MODELS",
    "Member",
    "TabloopModel",
    "TrainResult",
    "TrainRun",
    "ZOO",
    "build_model",
    "train",
    "train_and_register",
]
