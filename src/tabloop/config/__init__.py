"""The project file ``tabloop.yaml``: typed models, loading, and ``tabloop init``."""

from tabloop.config._init import init_project
from tabloop.config._load import config_from_dict, find_config, load_config, load_training_data
from tabloop.config._models import (
    DataConfig,
    FeaturesConfig,
    ProfileConfig,
    ProjectConfig,
    SplitConfig,
    SqlSource,
)

__all__ = [
    "DataConfig",
    "FeaturesConfig",
    "ProfileConfig",
    "ProjectConfig",
    "SplitConfig",
    "SqlSource",
    "config_from_dict",
    "find_config",
    "init_project",
    "load_config",
    "load_training_data",
]
