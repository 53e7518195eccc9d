"""Train models: the model zoo, cross-validation, tuning, ensembling and decision thresholds."""

from tabloop.train._baseline import BaselineCheck
from tabloop.train._cv import align_classes, make_pipeline, predict_scores, score
from tabloop.train._distributed import DistributedSource, target_codes, test_pieces
from tabloop.train._imputation import compare_imputation
from tabloop.train._model import Member, TabloopModel
from tabloop.train._replay import SINGLE_THREAD_ROWS, Predict, replay_estimator
from tabloop.train._result import TrainResult
from tabloop.train._sample import sampling_line
from tabloop.train._segment_profiles import segment_profiles
from tabloop.train._train import train
from tabloop.train._zoo import DEFAULT_MODELS, ZOO, CatBoostModel, build_model

__all__ = [
    "BaselineCheck",
    "CatBoostModel",
    "DEFAULT_MODELS",
    "DistributedSource",
    "Member",
    "Predict",
    "SINGLE_THREAD_ROWS",
    "TabloopModel",
    "TrainResult",
    "ZOO",
    "align_classes",
    "build_model",
    "compare_imputation",
    "make_pipeline",
    "predict_scores",
    "replay_estimator",
    "sampling_line",
    "score",
    "segment_profiles",
    "target_codes",
    "test_pieces",
    "train",
]
