"""The typed structure of ``tabloop.yaml``.

Every section forbids unknown keys: a misspelt key is an error naming the allowed ones,
never silently ignored. Sections that later stages fill (``prepare``, ``train``,
``evaluate``, ``serve``, ``monitor``) exist now and accept an empty mapping; their keys
arrive with the stage that reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from tabloop.config._extras import default_models
from tabloop.config._formula_grammar import parse_formula
from tabloop.config._names import (
    FAIRNESS_METRICS,
    HIGHER_IS_BETTER,
    MODEL_ALIASES,
    MODEL_NAMES,
)
from tabloop.config._objective import check_costs, parse_objective
from tabloop.config._requirements import check_requirement_metrics, parse_requirement

Task = Literal["binary", "multiclass", "regression", "clustering"]
SplitStrategy = Literal["stratified", "random", "group", "time"]


def _parse_requirements(value: list[str]) -> list[str]:
    """Each requirement parses (``ConfigError`` quotes one that does not)."""
    for text in value:
        parse_requirement(text)
    return value


#: ``'<metric> <op> <number>'`` texts, checked when the file loads.
Requirements = Annotated[list[str], AfterValidator(_parse_requirements)]


class _Section(BaseModel):
    """Base of every section: unknown keys are errors; ``key:`` with no value means defaults."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class SqlSource(_Section):
    """Training data from a SQL query; ``$VARS`` in ``url`` are read from the environment."""

    query: str = Field(min_length=1)
    url: str = Field(min_length=1)


class DataConfig(_Section):
    train: str | None = Field(None, description="CSV or Parquet path, relative to tabloop.yaml")
    sql: SqlSource | None = None
    target: str | None = Field(None, description="column to predict; omit for clustering")
    id: str | None = Field(None, description="entity id: never a feature, used to match outcomes")
    time: str | None = Field(None, description="event time: time-based split and monitoring")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.train is None) == (self.sql is None):
            raise ValueError("give exactly one of 'train' (a file path) or 'sql' (query and url)")
        return self


CalendarPart = Literal["year", "quarter", "month", "week", "day", "dayofweek"]
LagStat = Literal["mean", "std", "min", "max"]
LagPeriod = Literal["year", "quarter", "month", "week", "day", "hour"]
#: The ``features.lags`` vocabulary, shared with ``tabloop.prepare.LagFeatures``: the
#: statistics of a window, the calendar parts of a date order (coarse to fine), the periods
#: ``every`` may count, and the defaults of ``stats`` and ``calendar``.
LAG_STATS: tuple[str, ...] = get_args(LagStat)
LAG_CALENDAR: tuple[str, ...] = get_args(CalendarPart)
LAG_PERIODS: tuple[str, ...] = get_args(LagPeriod)
LAG_DEFAULT_STATS: tuple[LagStat, ...] = ("mean", "std")
LAG_DEFAULT_CALENDAR: tuple[CalendarPart, ...] = ("month",)
#: Numbers per free-text column unless ``prepare.text.components`` says otherwise.
TEXT_COMPONENTS = 30


def _default_stats() -> list[LagStat]:
    return list(LAG_DEFAULT_STATS)


def _default_calendar() -> list[CalendarPart]:
    return list(LAG_DEFAULT_CALENDAR)


class LagConfig(_Section):
    """``features.lags.<column>``: the column's values in earlier rows of the same entity
    (``tabloop.prepare.LagFeatures``); a row never sees its own value or a later one."""

    by: str | None = Field(None, description="entity column; default: one single series")
    order: str = Field(min_length=1, description="time or sequence column ordering the rows")
    lags: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    windows: list[Annotated[int, Field(ge=2)]] = Field(
        default_factory=list, description="rolling statistics over this many earlier rows"
    )
    stats: list[LagStat] = Field(default_factory=_default_stats, min_length=1)
    calendar: list[CalendarPart] = Field(
        default_factory=_default_calendar, description="parts of a date 'order' column"
    )
    every: str | float = Field(
        "rows", description="what a lag counts: rows, or periods of a date (numeric) order"
    )

    @field_validator("every", mode="before")
    @classmethod
    def _unit_or_step(cls, value: Any) -> Any:
        units = ("rows", *LAG_PERIODS)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value in units or (number and value > 0):
            return value
        raise ValueError(
            f"must be one of {', '.join(units)} (a date order) or a positive number (the step "
            f"of a numeric order); got {value!r}"
        )

    @model_validator(mode="after")
    def _something_to_compute(self) -> LagConfig:
        if not self.lags and not self.windows:
            raise ValueError("give 'lags' (e.g. [1, 2, 3]) or 'windows' (e.g. [3, 6]) or both")
        for key in ("lags", "windows", "stats", "calendar"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ValueError(f"'{key}' lists a value twice: {values}")
        return self


class FeaturesConfig(_Section):
    include: list[str] | None = Field(None, description="use only these columns (default: all)")
    drop: list[str] = Field(default_factory=list)
    derive: dict[str, str] = Field(default_factory=dict, description="new column: formula")
    lags: dict[str, LagConfig] = Field(
        default_factory=dict, description="column: per-entity lags and rolling statistics"
    )
    log: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    text: list[str] = Field(
        default_factory=list, description="force free text (read as TF-IDF + SVD numbers)"
    )

    @field_validator("derive")
    @classmethod
    def _formulas_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            parse_formula(text, name=name)  # FormulaError (a ValueError) names key and piece
        return value

    @model_validator(mode="after")
    def _no_contradictions(self) -> FeaturesConfig:
        pairs = (("include", "drop"), ("categorical", "numeric"))
        for a, b in (*pairs, ("text", "categorical"), ("text", "numeric")):
            both = set(getattr(self, a) or ()) & set(getattr(self, b) or ())
            if both:
                raise ValueError(f"column {sorted(both)[0]!r} is in both '{a}' and '{b}'")
        return self


class ProfileConfig(_Section):
    leakage_cutoff: float = Field(0.9, gt=0.5, le=1.0)
    correlation_threshold: float = Field(0.8, gt=0, le=1.0)
    pure_segment_share: float = Field(0.98, gt=0.5, le=1.0)
    min_segment_rows: int | None = Field(None, ge=1)
    by: list[str] = Field(default_factory=list, description="group columns for distributions")

    @field_validator("by", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SplitConfig(_Section):
    strategy: SplitStrategy | None = Field(
        None, description="default: 'time' when data.time is set, else 'stratified'"
    )
    test_size: float = Field(0.2, gt=0, lt=1)
    group: str | None = None
    time: str | None = Field(None, description="default: data.time")
    seed: int = 0

    @model_validator(mode="after")
    def _group_needs_column(self) -> SplitConfig:
        if self.strategy == "group" and not self.group:
            raise ValueError("strategy 'group' needs 'group': the column naming the entity")
        return self


class TextConfig(_Section):
    """``prepare.text``: free-text columns as numbers (``tabloop.prepare.EncodeText``)."""

    encode: bool = Field(
        True, description="TF-IDF + truncated SVD per text column; false drops them (said)"
    )
    components: int = Field(TEXT_COMPONENTS, ge=1, le=1000, description="numbers per text column")


class PrepareConfig(_Section):
    """Imputation, encoding and feature selection (see ``tabloop.prepare``)."""

    imputation: Literal[
        "auto", "none", "median", "most_frequent", "knn", "iterative", "multiple"
    ] = "auto"
    knn_k: int = Field(5, ge=1, description="neighbours for imputation 'knn'")
    imputations: int = Field(5, ge=2, le=50, description="draws for imputation 'multiple'")
    missing_indicators: bool = True
    unseen_categories: Literal["ignore", "error"] = "ignore"
    correlation_threshold: float | None = Field(0.95, gt=0, le=1)
    keep: list[str] = Field(
        default_factory=list, description="columns kept even if flagged as leaking or correlated"
    )
    text: TextConfig = Field(default_factory=TextConfig)
    missing_values: dict[str, list[StrictStr | StrictInt | StrictFloat]] = Field(
        default_factory=dict,
        description="codes read as missing: [not_known, '?'] for every column, or per "
        "column {job: [not_known], age: [-1, 999]} ('*' for every column)",
    )

    @field_validator("text", mode="before")
    @classmethod
    def _text_switch(cls, value: Any) -> Any:
        return {"encode": value} if isinstance(value, bool) else value  # text: false

    @field_validator("missing_values", mode="before")
    @classmethod
    def _codes_everywhere(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):  # a plain list: codes for every column
            return {"*": list(value)}
        if isinstance(value, dict):  # one code without brackets: age: -1
            return {k: v if isinstance(v, list | tuple) else [v] for k, v in value.items()}
        return value


class ClusterConfig(_Section):
    method: Literal["kmeans", "gmm"] = "kmeans"
    k: int | None = Field(None, ge=2, description="number of segments; default: by silhouette")
    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)

    @model_validator(mode="after")
    def _range(self) -> ClusterConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class TrainConfig(_Section):
    """Models, cross-validation, tuning, ensembling, thresholds (see ``tabloop.train``)."""

    models: list[str] = Field(
        default_factory=default_models,
        min_length=1,
        description="zoo names or import paths 'package.module:Class'; default: linear, "
        "lightgbm and catboost (when installed)",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="fixed hyper-parameters per model"
    )
    folds: int = Field(5, ge=2, le=50)
    metric: str | None = Field(
        None, description="selection metric; default roc_auc / log_loss / rmse by task"
    )
    ensemble: bool = Field(True, description="greedy ensemble of the models on CV predictions")
    refit: Literal["full", "folds"] = Field(
        "full", description="refit winners on all training rows, or average the fold models"
    )
    trials: int = Field(0, ge=0, description="Optuna trials per model (0: defaults only)")
    time_budget: float | None = Field(None, gt=0, description="seconds for the whole run")
    imbalance: Literal["none", "class_weight", "smote"] = "none"
    threshold: str = Field("f1", description="'f1', 'cost' or a constraint 'precision >= 0.5'")
    costs: dict[Literal["tp", "fp", "tn", "fn"], float] = Field(default_factory=dict)
    threshold_confidence: float = Field(0.95, gt=0.5, lt=1)
    learning_curve: bool = True
    sample: Literal["auto"] | int | None = Field(
        "auto",
        description="rows to train on: 'auto' (a learning curve on growing samples when the "
        "training split holds over 100,000 rows), a number of rows, or null (every row)",
    )
    engine: Literal["local", "dask"] = Field(
        "local",
        description="'dask': read data.train on the cluster's workers, cross-validate on a "
        "sample, fit lightgbm/xgboost on every training row across the workers",
    )
    clusters: ClusterConfig = Field(default_factory=ClusterConfig)

    @field_validator("sample")
    @classmethod
    def _sample_size(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and value < 100):
            raise ValueError(
                f"train.sample is {value!r}; use 'auto', null or a number of rows of at least 100"
            )
        return value

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in MODEL_NAMES and name not in MODEL_ALIASES and ":" not in name:
                allowed = ", ".join([*MODEL_NAMES, *MODEL_ALIASES])
                raise ValueError(
                    f"unknown model {name!r}; use one of {allowed} or 'package.module:Class'"
                )
        return value

    @field_validator("threshold")
    @classmethod
    def _objective_parses(cls, value: str) -> str:
        parse_objective(value)  # TrainError (a ValueError) quotes the text
        return value

    @model_validator(mode="after")
    def _cost_needs_costs(self) -> TrainConfig:
        if self.threshold == "cost" and not self.costs:
            raise ValueError("threshold 'cost' needs 'costs', e.g. {fp: 1, fn: 5}")
        if self.threshold == "cost":  # TrainError (a ValueError) names the costs
            check_costs({str(key): value for key, value in self.costs.items()})
        return self


class FairnessConfig(_Section):
    protected: list[str] = Field(min_length=1, description="protected attribute columns")
    segment: str | None = Field(None, description="audit within each value of this column")
    metric: str = "precision"
    intersections: bool = True
    min_group_size: int = Field(30, ge=1)
    max_gap: float = Field(0.05, ge=0, le=1)
    mitigate: Literal[
        "none",
        "demographic_parity",
        "equalized_odds",
        "true_positive_rate_parity",
        "false_negative_rate_parity",
    ] = "none"

    @field_validator("protected", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in FAIRNESS_METRICS:
            raise ValueError(f"unknown metric {value!r}; use one of {', '.join(FAIRNESS_METRICS)}")
        return value


class EvaluateConfig(_Section):
    """Metrics with confidence intervals, requirements, fairness (see ``tabloop.evaluate``)."""

    bootstrap: int = Field(1000, ge=0, description="bootstrap replicates for the CIs (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    requirements: Requirements = Field(
        default_factory=list, description="e.g. 'precision >= 0.5', 'fairness.max_gap <= 0.05'"
    )
    fairness: FairnessConfig | None = None
    importance: bool = Field(True, description="permutation importance (and SHAP for trees)")


class RegistryConfig(_Section):
    """Where runs and model versions go (MLflow)."""

    tracking_uri: str | None = Field(
        None, description="MLflow server or store; default TABLOOP_TRACKING_URI or .tabloop/"
    )
    model_name: str | None = Field(None, description="registered model name; default: name")


Role = Literal["predict", "feedback", "admin"]
_VARIANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class ApiKeyConfig(_Section):
    """One API key: read from the environment variable ``env`` (preferred) or given as
    ``key``; ``roles`` say what it may call."""

    env: str | None = Field(None, description="environment variable holding the key")
    key: str | None = Field(None, min_length=16, description="the key itself (prefer env)")
    roles: list[Role] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> ApiKeyConfig:
        if (self.env is None) == (self.key is None):
            raise ValueError("give exactly one of 'env' (a variable name) or 'key'")
        return self


class LogConfig(_Section):
    """How the service keeps its prediction log (see the README's durability note)."""

    durability: Literal["async", "sync"] = Field(
        "async",
        description="async: answer once the row is queued; sync: once it is committed or "
        "fsynced to the spool (concurrent requests share one commit)",
    )
    max_backlog: int = Field(
        10_000, ge=1, description="rows held in memory before predictions are refused with 503"
    )


class ServeConfig(_Section):
    """The prediction service: variants and traffic, context columns, limits, keys, log."""

    variants: dict[str, str] = Field(
        default_factory=dict,
        description="name: model URI; default {champion: models:/NAME@champion}",
    )
    traffic: dict[str, float] = Field(
        default_factory=dict, description="name: share (normalised); default: equal shares"
    )
    sticky_by: str | None = Field(None, description="column whose value fixes the variant")
    context: list[str] = Field(
        default_factory=list, description="columns logged with the prediction, never features"
    )
    metric: str | None = Field(None, description="A/B decision metric; default by task")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    keys: dict[str, ApiKeyConfig] = Field(
        default_factory=dict, description="name: key; the name (never the key) is logged"
    )
    max_rows: int = Field(10_000, ge=1, description="rows per request")
    max_body_mb: float = Field(32.0, gt=0, description="request body size limit")
    reload_every: float | None = Field(
        None, gt=0, description="seconds between alias checks (None: only /admin/reload)"
    )
    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the log; default TABLOOP_STORE_URL or .tabloop/"
    )
    log: LogConfig = Field(default_factory=LogConfig)

    @field_validator("variants", "traffic")
    @classmethod
    def _variant_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        import re

        for name in value:
            if not re.match(_VARIANT_NAME, name):
                raise ValueError(
                    f"variant name {name!r} must be 1-40 letters, digits, '_', '-' or '.'"
                )
        return value

    @field_validator("traffic")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        for name, share in value.items():
            if not share >= 0 or share == float("inf"):
                raise ValueError(f"share of variant {name!r} must be a number >= 0; got {share}")
        if value and sum(value.values()) <= 0:
            raise ValueError("at least one variant needs a share above 0")
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _backlog_holds_a_request(self) -> ServeConfig:
        if self.log.max_backlog < self.max_rows:
            raise ValueError(
                f"log.max_backlog ({self.log.max_backlog:,}) must be at least max_rows "
                f"({self.max_rows:,}): a request of max_rows rows could never be logged"
            )
        return self

    @model_validator(mode="after")
    def _traffic_names_variants(self) -> ServeConfig:
        if self.traffic:
            if not self.variants:
                raise ValueError("'traffic' needs 'variants' (name: model URI) to split between")
            unknown = sorted(set(self.traffic) - set(self.variants))
            if unknown:
                raise ValueError(
                    f"traffic names variant {unknown[0]!r}, which is not in 'variants' "
                    f"({', '.join(self.variants)})"
                )
        return self


class MonitorFairnessConfig(FairnessConfig):
    """The production fairness audit; ``human_decision`` names a logged context column with
    the human's own 0/1 decision (e.g. the officer's search), audited as a baseline."""

    human_decision: str | None = Field(
        None, description="context column with the human decision, audited beside the model"
    )


class DriftConfig(_Section):
    """Population drift: effect-size thresholds decide, p-values are the evidence."""

    columns: list[str] = Field(
        default_factory=list, description="columns to compare; default: every profiled column"
    )
    numeric_threshold: float = Field(
        0.1, gt=0, description="Wasserstein distance / reference std at which a column drifts"
    )
    categorical_threshold: float = Field(
        0.1, gt=0, le=1, description="Jensen-Shannon distance at which a column drifts"
    )
    missing_threshold: float = Field(
        0.1, gt=0, le=1, description="change in a column's share of missing values that drifts"
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="after Benjamini-Hochberg across columns")
    multivariate: bool = Field(True, description="a classifier telling reference from current")


_CHUNK = r"^\s*(\d+\s*[hdw]|\d+)\s*$"


class MonitorConfig(_Section):
    """Production monitoring: windows, drift, performance by segment, fairness, requirements."""

    chunk: str | None = Field(
        None, pattern=_CHUNK, description="'1d', '1w', '12h' (by time) or '500' (rows)"
    )
    min_chunk_rows: int = Field(50, ge=1, description="fewer rows: a chunk is shown, not judged")
    segment: str | None = Field(None, description="break production performance down by this")
    drift: DriftConfig = Field(default_factory=DriftConfig)
    fairness: MonitorFairnessConfig | None = Field(None, description="default: evaluate.fairness")
    requirements: Requirements = Field(
        default_factory=list,
        description="e.g. 'precision >= 0.5', 'fairness.max_gap <= 0.05', "
        "'drift.share_drifted_columns < 0.3'",
    )
    alert_webhook: str | None = Field(
        None, pattern=r"^https?://", description="URL that receives a JSON alert on failure"
    )
    alert_format: Literal["tabloop", "alertmanager", "slack"] = Field(
        "tabloop", description="the alert's JSON: tabloop's own, Alertmanager's or Slack's"
    )
    bootstrap: int = Field(1000, ge=0, description="bootstrap replicates for the CIs")


class RetrainConfig(_Section):
    """How ``tabloop retrain`` assembles a challenger's data and when it is promoted."""

    filter: str | None = Field(
        None, description="formula over the original rows to keep, e.g. 'searched == True'"
    )
    production: bool = Field(True, description="add the labelled production rows of the log")
    holdout: float = Field(
        0.3, gt=0, lt=1, description="share of labelled production rows (the newest) held out"
    )
    metric: str | None = Field(None, description="comparison metric; default: train's metric")
    margin: float = Field(0.0, ge=0, description="how much better the challenger must be")

    @field_validator("filter")
    @classmethod
    def _filter_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_formula(value)  # FormulaError quotes the formula and the offending piece
        return value

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in HIGHER_IS_BETTER:
            raise ValueError(f"unknown metric {value!r}; use one of {', '.join(HIGHER_IS_BETTER)}")
        return value


class ScaleConfig(_Section):
    """Where batch work (predict, monitor) runs; ``--cluster`` and ``TABLOOP_CLUSTER`` too."""

    cluster: str | None = Field(
        None, description="'local:N' (N worker processes) or a Dask scheduler 'tcp://host:8786'"
    )

    @field_validator("cluster")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            from tabloop.scale import parse_cluster_address

            parse_cluster_address(value)  # a ValueError: pydantic names the key
        return value


class ProjectConfig(_Section):
    """The whole project file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    data: DataConfig
    task: Task | None = Field(None, description="inferred from the target when omitted")
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    profile: ProfileConfig = Field(default_factory=ProfileConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    scale: ScaleConfig = Field(default_factory=ScaleConfig)

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _task_matches_target(self) -> ProjectConfig:
        if self.task == "clustering" and self.data.target:
            raise ValueError("task 'clustering' takes no data.target; remove one of them")
        if self.task not in (None, "clustering") and not self.data.target:
            raise ValueError(f"task {self.task!r} needs data.target")
        if self.features.lags and not self.data.target:
            raise ValueError("features.lags feed a model of data.target; clustering uses none")
        if self.data.target in self.features.lags and self.split_strategy not in ("time", "group"):
            raise ValueError(
                f"features.lags.{self.data.target} (the target's past) needs split.strategy "
                f"'time' (set data.time: the order column) or 'group' (by the entity): with "
                f"{self.split_strategy!r} an entity's periods fall on both sides, and the "
                "score would not be that of a forecast"
            )
        if self.data.target and self.data.target in self.prepare.missing_values:
            target = self.data.target
            raise ValueError(
                f"prepare.missing_values.{target}: {target!r} is data.target, and codes are "
                "not applied to the target: a row whose target is unknown cannot be trained "
                "or evaluated on, and tabloop drops no rows on its own. Remove those rows from "
                "the data (or leave the target empty there: training then lists them), and "
                "remove this entry"
            )
        if self.task and self.task != "clustering":
            check_requirement_metrics(self.evaluate.requirements, self.task)
            check_requirement_metrics(self.monitor.requirements, self.task, monitor=True)
        return self

    @model_validator(mode="after")
    def _engine_can_run(self) -> ProjectConfig:
        problem = self._engine_problem()
        if problem:
            raise ValueError(problem)
        return self

    def _engine_problem(self) -> str | None:
        """Why ``train.engine: dask`` cannot run this project (None: it can, or is not set)."""
        if self.train.engine != "dask":
            return None
        refused = {
            "train.models": not set(self.train.models) & {"lightgbm", "xgboost"}
            and f"{self.train.models} has no model it fits across workers: add lightgbm or xgboost",
            "split.strategy": self.split_strategy == "time"
            and "'time' needs every row's time at once; use 'random', 'stratified' or 'group'",
            "train.imbalance": self.train.imbalance == "smote"
            and "'smote' resamples the whole table; use 'class_weight' or 'none'",
            "prepare.imputation": self.prepare.imputation == "multiple"
            and "'multiple' fits one model per imputation; use another imputation",
            "data.sql": self.data.sql is not None
            and "is read in this process; the workers read data.train (a file, folder or glob)",
            "data.target": self.data.target is None
            and "is not set: clustering runs in this process",
            "features.lags": bool(self.features.lags)
            and "needs each entity's earlier rows together; remove it or train in one process",
        }
        return next(
            (f"train.engine 'dask': {key} {reason}" for key, reason in refused.items() if reason),
            None,
        )

    def on_cluster(self) -> ProjectConfig:
        """A copy with ``train.engine: dask`` (``tabloop train --cluster``), refused as the
        file's own setting would be (:class:`ConfigError`)."""
        from tabloop.exceptions import ConfigError

        copy = self.model_copy(update={"train": self.train.model_copy(update={"engine": "dask"})})
        problem = copy._engine_problem()
        if problem:
            raise ConfigError(f"--cluster: {problem}.")
        return copy

    @property
    def model_name(self) -> str:
        """The registered model's name: ``registry.model_name`` or the project name."""
        return self.registry.model_name or self.name

    @property
    def served_variants(self) -> dict[str, str]:
        """Variant name -> model URI the service answers with: ``serve.variants``, or the
        champion alone, as ``champion`` (the registry's alias; registry sits above config)."""
        return dict(self.serve.variants) or {"champion": f"models:/{self.model_name}@champion"}

    @property
    def root(self) -> Path:
        """The folder of the project file: relative paths are resolved against it."""
        return self._root

    @property
    def source(self) -> Path | None:
        """The project file this config was read from, if any."""
        return self._source

    def resolve(self, path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else self._root / path

    @property
    def split_strategy(self) -> SplitStrategy:
        if self.split.strategy:
            return self.split.strategy
        return "time" if self.data.time else "stratified"
