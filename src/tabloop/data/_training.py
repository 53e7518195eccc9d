"""The project's training table: the file or query in ``tabloop.yaml``, its columns checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabloop.data._frame import require_columns
from tabloop.data._load import load_data, load_sql

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig


def load_training_data(config: ProjectConfig) -> pd.DataFrame:
    """Load the project's training table and check every column the config names exists."""
    if config.data.sql is not None:
        df = load_sql(config.data.sql.query, config.data.sql.url)
    else:
        df = load_data(config.resolve(config.data.train or ""))
    check_training_columns(df, config)
    return df


def check_training_columns(df: pd.DataFrame, config: ProjectConfig) -> None:
    """Every column the config names exists in ``df`` (:class:`SchemaError` names the role)."""
    roles = {
        "data.target": config.data.target,
        "data.id": config.data.id,
        "data.time": config.data.time,
        "split.group": config.split.group,
        "split.time": config.split.time,
    }
    for role, column in roles.items():
        if column:
            require_columns(df, [column], role=f"{role} column")
    features = config.features
    for key in ("include", "drop", "log", "categorical", "numeric"):
        for column in getattr(features, key) or ():
            require_columns(df, [column], role=f"features.{key} column")
    for column in config.profile.by:
        require_columns(df, [column], role="profile.by column")
