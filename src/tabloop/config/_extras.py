"""Which optional extras a project file asks for, checked before any training starts.

A setting that needs a library outside the base install (see :mod:`tabloop._extras`) is
refused with the ``pip install`` command at the start of ``tabloop train`` and ``tabloop
retrain`` rather than as an ``ImportError`` deep inside the first cross-validation fold. The
check is not part of loading the file: ``tabloop serve`` or ``tabloop profile`` on a
machine without CatBoost should not fail because ``train.models`` names it.

When ``train.models`` is not set, the default models are those of :data:`DEFAULT_MODELS`
that are installed; :func:`extra_warnings` names the ones left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabloop._extras import EXTRAS, install_command, installed, missing_message
from tabloop.exceptions import MissingDependencyError

if TYPE_CHECKING:
    from tabloop.config._models import ProjectConfig

#: What ``train.models`` means when not set (those installed): a fast, strong trio to ensemble.
DEFAULT_MODELS = ("linear", "lightgbm", "catboost")
#: Zoo models that live in an extra, by the extra's name.
MODEL_EXTRAS = {"catboost": "catboost", "xgboost": "xgboost"}


def default_models() -> list[str]:
    """The models ``train.models`` holds when the file does not set it: the installed ones of
    :data:`DEFAULT_MODELS`."""
    return [m for m in DEFAULT_MODELS if m not in MODEL_EXTRAS or installed(MODEL_EXTRAS[m])]


def needed_extras(config: ProjectConfig) -> list[tuple[str, str]]:
    """``(setting, extra)`` for every setting of ``config`` that needs an extra, installed or
    not, in the file's order; the setting reads as it is written (``train.trials: 50``)."""
    needs: list[tuple[str, str]] = []
    if "models" in config.train.model_fields_set:
        needs += [
            (f"train.models: [{m}]", MODEL_EXTRAS[m])
            for m in config.train.models
            if m in MODEL_EXTRAS
        ]
    if config.train.trials > 0:
        needs.append((f"train.trials: {config.train.trials}", "optuna"))
    if config.train.imbalance == "smote":
        needs.append(("train.imbalance: smote", "imbalanced"))
    fairness = config.evaluate.fairness
    if fairness is not None and fairness.mitigate != "none":
        needs.append((f"evaluate.fairness.mitigate: {fairness.mitigate}", "fairness"))
    return needs


def check_extras(config: ProjectConfig) -> None:
    """Raise :class:`MissingDependencyError` when ``config`` asks for an extra that is not
    installed: one line naming each setting and one ``pip install`` for all of them.

    Examples
    --------
    >>> from tabloop.config import check_extras, config_from_dict
    >>> check_extras(config_from_dict({"name": "p", "data": {"train": "x.csv", "target": "y"}}))
    """
    missing = [(setting, extra) for setting, extra in needed_extras(config) if not installed(extra)]
    if not missing:
        return
    source = config.source.name if config.source is not None else "the project"
    if len(missing) == 1:
        setting, extra = missing[0]
        raise MissingDependencyError(f"{source}: {missing_message(extra, setting)}")
    extras = list(dict.fromkeys(extra for _, extra in missing))
    parts = "; ".join(f"{setting} needs {EXTRAS[extra].distribution}" for setting, extra in missing)
    raise MissingDependencyError(
        f"{source}: {parts}; these are not installed: {install_command(','.join(extras))}."
    )


def extra_warnings(config: ProjectConfig) -> list[str]:
    """A warning per default model left out because its extra is missing (empty when
    ``train.models`` is set: then :func:`check_extras` refuses instead)."""
    if "models" in config.train.model_fields_set:
        return []
    return [
        f"train.models is not set: the default {model} model is left out because "
        f"{EXTRAS[MODEL_EXTRAS[model]].distribution} is not installed "
        f"({install_command(MODEL_EXTRAS[model])} to include it)"
        for model in DEFAULT_MODELS
        if model in MODEL_EXTRAS and model not in config.train.models
    ]
