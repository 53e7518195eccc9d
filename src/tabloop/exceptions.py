"""Every error tabloop raises on purpose.

Each leaf also subclasses the built-in exception a user would already catch, so
``except ValueError`` keeps working around tabloop calls::

    TabloopError
    ├── ConfigError (ValueError)            tabloop.yaml is missing, unreadable or invalid
    │   ├── ConfigNotFoundError (FileNotFoundError)
    │   └── FormulaError                    a features.derive formula is invalid or unsafe
    ├── DataError (ValueError)              the data cannot be used as given
    │   ├── DataSourceError                 a file or database cannot be read
    │   │   └── DataFileNotFoundError (FileNotFoundError)
    │   ├── EmptyDataError                  the source has no rows (or not even a header)
    │   ├── ColumnNotFoundError             a named column is absent (close matches suggested)
    │   ├── TargetError                     the target column is unusable (e.g. missing values)
    │   └── SchemaError                     a frame does not match a schema (carries the report)
    ├── SplitError (ValueError)             a train/test split cannot be made as configured
    ├── TrainError (ValueError)             no model can be trained as configured
    ├── RegistryError (RuntimeError)        the MLflow store or a model version is unusable
    │   └── ModelNotFoundError (LookupError) no such registered model, version or alias
    ├── StoreError (RuntimeError)           the prediction log cannot be reached, read or written
    │   ├── StoreOutdatedError              the log's schema is older than this tabloop
    │   └── LogFullError                    the log cannot take more rows now: retry later
    ├── MonitorError (ValueError)           a window or reference cannot be monitored as asked
    ├── RetrainError (ValueError)           a challenger cannot be assembled or compared
    ├── ClusterError (RuntimeError)         the Dask cluster does not answer or cannot run the work
    └── MissingDependencyError (ImportError) an optional extra is not installed

Messages name the key, column or value at fault, say what was expected, and where there
is one, what to do next. The CLI prints them as one line and exits with status 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tabloop.data import ValidationReport

__all__ = [
    "ClusterError",
    "ColumnNotFoundError",
    "ConfigError",
    "ConfigNotFoundError",
    "DataError",
    "DataFileNotFoundError",
    "DataSourceError",
    "EmptyDataError",
    "FormulaError",
    "LogFullError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "MonitorError",
    "RegistryError",
    "RetrainError",
    "SchemaError",
    "SplitError",
    "StoreError",
    "StoreOutdatedError",
    "TabloopError",
    "TargetError",
    "TrainError",
]


class TabloopError(Exception):
    """Base class of every error tabloop raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt without calling __init__, whose keyword-only arguments pickle's default
        # (cls(*args)) would miss: an error raised on a Dask worker reaches the caller whole
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[TabloopError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    # the built-in base that lays the error out in memory creates it (OSError and ImportError
    # have their own layout; ValueError.__new__ refuses an OSError subclass)
    base = next(b for b in (OSError, ImportError, Exception) if issubclass(cls, b))
    error = base.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(TabloopError, ValueError):
    """The project file is unreadable or does not match the expected structure."""


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """No ``tabloop.yaml`` where one was looked for."""


class FormulaError(ConfigError):
    """A derived-feature formula names an unknown column or function, or is not allowed."""


class DataError(TabloopError, ValueError):
    """The data cannot be used as given."""


class DataSourceError(DataError):
    """A file or database cannot be read."""


class DataFileNotFoundError(DataSourceError, FileNotFoundError):
    """A data file does not exist."""


class EmptyDataError(DataError):
    """The data source holds no rows."""


class ColumnNotFoundError(DataError):
    """A column named in the call or the config is not in the data."""

    def __init__(self, message: str, *, column: str, close_matches: list[str]) -> None:
        super().__init__(message)
        self.column = column
        self.close_matches = close_matches


class TargetError(DataError):
    """The target column cannot be used (missing values, a single class, ...)."""

    def __init__(self, message: str, *, column: str, rows: list[Any] | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.rows = rows or []


class SchemaError(DataError):
    """A frame does not match a schema; ``report`` lists every problem found."""

    def __init__(self, message: str, *, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class SplitError(TabloopError, ValueError):
    """A train/test split cannot be made as configured."""


class TrainError(TabloopError, ValueError):
    """Training cannot proceed as configured (e.g. fewer rows than folds, no features left)."""


class RegistryError(TabloopError, RuntimeError):
    """The MLflow tracking store does not answer, or a model package is unusable."""


class ModelNotFoundError(RegistryError, LookupError):
    """No registered model, version or alias by that name."""


class StoreError(TabloopError, RuntimeError):
    """The prediction log (SQLite or PostgreSQL) cannot be reached, read or written."""


class StoreOutdatedError(StoreError):
    """The log's tables were made by an older tabloop; ``tabloop store upgrade`` migrates them."""

    def __init__(self, message: str, *, current: str | None, head: str) -> None:
        super().__init__(message)
        self.current = current
        self.head = head


class LogFullError(StoreError):
    """The prediction log cannot take more rows now: its in-memory backlog is full, or
    neither the database nor the spool accepts rows (``reason``: ``"backlog_full"`` or
    ``"unavailable"``). Nothing was queued; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, reason: str, retry_after: float) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class MonitorError(TabloopError, ValueError):
    """Monitoring cannot run as asked: an empty window, a column or reference that is absent."""


class RetrainError(TabloopError, ValueError):
    """A retraining set cannot be assembled, or challenger and champion cannot be compared."""


class ClusterError(TabloopError, RuntimeError):
    """The Dask cluster named by ``--cluster`` / ``scale.cluster`` / ``TABLOOP_CLUSTER`` does
    not answer, or its workers lack what the work needs (tabloop, a model library)."""


class MissingDependencyError(TabloopError, ImportError):
    """An optional dependency is needed; the message gives the pip command."""
