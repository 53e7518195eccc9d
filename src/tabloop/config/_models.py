"""The typed structure of ``tabloop.yaml``.

Every section forbids unknown keys: a misspelt key is an error naming the allowed ones,
never silently ignored. Sections that later stages fill (``prepare``, ``train``,
``evaluate``, ``serve``, ``monitor``) exist now and accept an empty mapping; their keys
arrive with the stage that reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Task = Literal["binary", "multiclass", "regression", "clustering"]
SplitStrategy = Literal["stratified", "random", "group", "time"]


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


class FeaturesConfig(_Section):
    include: list[str] | None = Field(None, description="use only these columns (default: all)")
    drop: list[str] = Field(default_factory=list)
    derive: dict[str, str] = Field(default_factory=dict, description="new column: formula")
    log: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)

    @field_validator("derive")
    @classmethod
    def _formulas_parse(cls, value: dict[str, str]) -> dict[str, str]:
        from tabloop.prepare import Formula

        for name, text in value.items():
            Formula(text, name=name)  # FormulaError (a ValueError) names the key and the piece
        return value

    @model_validator(mode="after")
    def _no_contradictions(self) -> FeaturesConfig:
        for a, b in (("include", "drop"), ("categorical", "numeric")):
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


class PrepareConfig(_Section):
    """Imputation, encoding and feature selection (see ``tabloop.prepare``)."""

    imputation: Literal["auto", "none", "median", "most_frequent", "knn", "iterative"] = "auto"
    knn_k: int = Field(5, ge=1, description="neighbours for imputation 'knn'")
    missing_indicators: bool = True
    unseen_categories: Literal["ignore", "error"] = "ignore"
    correlation_threshold: float | None = Field(0.95, gt=0, le=1)
    keep: list[str] = Field(
        default_factory=list, description="columns kept even if flagged as leaking or correlated"
    )


class TrainConfig(_Section):
    """Models, cross-validation, tuning, thresholds (filled by the modelling stage)."""


class EvaluateConfig(_Section):
    """Metrics, confidence intervals, fairness (filled by the modelling stage)."""


class ServeConfig(_Section):
    """Variants, traffic split, context columns, keys (filled by the serving stage)."""


class MonitorConfig(_Section):
    """Drift, requirements, alerts (filled by the monitoring stage)."""


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

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _task_matches_target(self) -> ProjectConfig:
        if self.task == "clustering" and self.data.target:
            raise ValueError("task 'clustering' takes no data.target; remove one of them")
        if self.task not in (None, "clustering") and not self.data.target:
            raise ValueError(f"task {self.task!r} needs data.target")
        return self

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
