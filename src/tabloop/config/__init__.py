"""The project file ``tabloop.yaml``: typed models, loading, and the names it may use.

``config`` sits below every stage and imports none (STYLE.md habit 16): the names the file
may use (metrics, models, requirements, threshold objectives, the formula grammar) are
defined here and the stages import them from here. Reading the training table the file names is
``tabloop.data.load_training_data``; writing a new file from data is
``tabloop.workflows.init_project``.
"""

from tabloop.config._extras import (
    DEFAULT_MODELS,
    MODEL_EXTRAS,
    check_extras,
    extra_warnings,
    needed_extras,
)
from tabloop.config._formula_grammar import (
    FORMULA_BINARY_OPERATORS,
    FORMULA_COMPARISONS,
    FORMULA_CONSTANTS,
    FORMULA_FUNCTIONS,
    ParsedFormula,
    parse_formula,
)
from tabloop.config._load import config_from_dict, find_config, load_config
from tabloop.config._models import (
    LAG_CALENDAR,
    LAG_DEFAULT_CALENDAR,
    LAG_DEFAULT_STATS,
    LAG_PERIODS,
    LAG_STATS,
    TEXT_COMPONENTS,
    DataConfig,
    FeaturesConfig,
    ProfileConfig,
    ProjectConfig,
    SplitConfig,
    SqlSource,
)
from tabloop.config._names import (
    FAIRNESS_METRICS,
    HIGHER_IS_BETTER,
    METRICS,
    MODEL_ALIASES,
    MODEL_NAMES,
)
from tabloop.config._objective import (
    CONSTRAINT_METRICS,
    COST_KEYS,
    Objective,
    check_costs,
    parse_objective,
)
from tabloop.config._requirements import (
    DRIFT_NAMES,
    ESTIMATED_METRICS,
    FAIRNESS_NAMES,
    Requirement,
    check_requirement_metrics,
    parse_requirement,
)

__all__ = [
    "CONSTRAINT_METRICS",
    "COST_KEYS",
    "DEFAULT_MODELS",
    "DRIFT_NAMES",
    "DataConfig",
    "ESTIMATED_METRICS",
    "FAIRNESS_METRICS",
    "FAIRNESS_NAMES",
    "FORMULA_BINARY_OPERATORS",
    "FORMULA_COMPARISONS",
    "FORMULA_CONSTANTS",
    "FORMULA_FUNCTIONS",
    "FeaturesConfig",
    "HIGHER_IS_BETTER",
    "LAG_CALENDAR",
    "LAG_DEFAULT_CALENDAR",
    "LAG_DEFAULT_STATS",
    "LAG_PERIODS",
    "LAG_STATS",
    "METRICS",
    "MODEL_ALIASES",
    "MODEL_EXTRAS",
    "MODEL_NAMES",
    "Objective",
    "ParsedFormula",
    "ProfileConfig",
    "ProjectConfig",
    "Requirement",
    "SplitConfig",
    "SqlSource",
    "TEXT_COMPONENTS",
    "check_costs",
    "check_extras",
    "check_requirement_metrics",
    "config_from_dict",
    "extra_warnings",
    "find_config",
    "load_config",
    "needed_extras",
    "parse_formula",
    "parse_objective",
    "parse_requirement",
]
