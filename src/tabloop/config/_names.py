"""The names ``tabloop.yaml`` may use: metrics, fairness metrics and models.

They live here, below every stage, so that ``config`` validates a project file without
importing the stages that use the names (STYLE.md habit 16). The stages import them from
``tabloop.config``: ``evaluate`` scores exactly :data:`METRICS`, ``train``'s zoo holds
exactly :data:`MODEL_NAMES` (``tests/config/test_names.py`` checks both agree).
"""

from __future__ import annotations

#: Metric names reported per task, in report order.
METRICS: dict[str, tuple[str, ...]] = {
    "binary": (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
    ),
    "multiclass": (
        "roc_auc",
        "log_loss",
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
    ),
    "regression": ("mae", "rmse", "mse", "r2", "mape"),
}
#: Whether a larger value of the metric is better, for every name in :data:`METRICS`.
HIGHER_IS_BETTER: dict[str, bool] = {
    name: name not in {"log_loss", "brier", "mae", "rmse", "mse", "mape"}
    for names in METRICS.values()
    for name in names
}
#: Metrics a fairness audit compares between groups (``evaluate.fairness.metric``).
FAIRNESS_METRICS = ("precision", "recall", "fpr", "fnr", "selection_rate", "accuracy", "f1")
#: The entries of the model zoo (``train.models``), in the zoo's order.
MODEL_NAMES = ("dummy", "linear", "random_forest", "lightgbm", "xgboost", "catboost")
#: Names a user may write for the same entry.
MODEL_ALIASES = {"logistic": "linear", "ridge": "linear", "rf": "random_forest"}
