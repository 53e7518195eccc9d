"""``tabloop.predict``: a frame in, the same frame with predictions appended out.

The model comes from the registry (``models:/NAME@champion`` by default, read from the
project in the working directory) and validates its input before predicting. Files are
predicted in chunks so memory stays bounded whatever their size.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import ModelNotFoundError, RegistryError
from tabloop.registry._registry import resolve_model_uri
from tabloop.registry._tracking import connect, quiet_mlflow, tracking_uri

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.train import TabloopModel

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
CHUNK_ROWS = 50_000


def load_model(
    model: str | None = None, *, config: ProjectConfig | None = None
) -> tuple[TabloopModel, str]:
    """The fitted :class:`TabloopModel` behind ``model`` and its concrete version URI.

    ``model`` is ``models:/NAME@alias``, ``models:/NAME/VERSION`` or a local MLflow model
    folder; default: the project's champion.
    """
    uri, registry = resolve(model, config)
    return load_pyfunc(uri, registry).model, uri


def resolve(model: str | None, config: ProjectConfig | None) -> tuple[str, str]:
    """The concrete URI of ``model`` (aliases resolved) and the registry it lives in
    (empty for a local folder)."""
    uri = resolve_model_uri(model, config if config is not None else _project_or_none())
    registry = ""
    if uri.startswith("models:/"):
        registry = connect(tracking_uri(config))
        uri = _concrete(uri)
    elif not Path(uri).exists() and "://" not in uri:
        raise ModelNotFoundError(f"Model {uri!r} is neither a models:/ URI nor an existing folder.")
    return uri, registry


@lru_cache(maxsize=8)
def load_pyfunc(uri: str, registry: str = "") -> Any:
    """The tabloop pyfunc behind a concrete ``uri`` (``.model``, ``.meta``, ``.files``).

    ``registry`` (the tracking URI it was resolved in) is part of the cache key, since
    ``models:/NAME/1`` of two stores are two models.
    """
    from mlflow.exceptions import MlflowException

    try:
        with quiet_mlflow():
            import mlflow.pyfunc

            loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"Cannot load model {uri!r}: {exc}") from None
    wrapped = loaded.unwrap_python_model()
    if getattr(wrapped, "model", None) is None:
        raise RegistryError(f"{uri!r} is an MLflow model but not a tabloop one.")
    return wrapped


def _concrete(uri: str) -> str:
    """``models:/NAME@alias`` → ``models:/NAME/VERSION`` (so caches follow alias moves)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if not match:
        raise ModelNotFoundError(
            f"Model URI {uri!r} must look like models:/NAME@ALIAS or models:/NAME/VERSION."
        )
    if match["version"]:
        return uri
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(match["name"], match["alias"]).version
    except MlflowException:
        raise ModelNotFoundError(
            f"No model version {match['name']!r}@{match['alias']!r} in the registry; "
            "train one (`tabloop train`) or check the name and alias (`tabloop models`)."
        ) from None
    return f"models:/{match['name']}/{version}"


def predict(
    df: pd.DataFrame, *, model: str | None = None, config: ProjectConfig | None = None
) -> pd.DataFrame:
    """``df`` with ``prediction`` (and ``probability`` / ``probability_<class>``) appended,
    plus ``model_version`` (the concrete ``models:/NAME/VERSION`` used).

    The input is validated against the model's schema first: a missing column, a wrong
    type or an empty frame raises :class:`~tabloop.exceptions.SchemaError` /
    :class:`~tabloop.exceptions.EmptyDataError` naming the column and value.

    Examples
    --------
    >>> import tabloop
    >>> scored = tabloop.predict(new_patients)  # doctest: +SKIP
    >>> scored[["prediction", "probability", "model_version"]].head()  # doctest: +SKIP
    """
    fitted, uri = load_model(model, config=config)
    out = fitted.predict_frame(df)
    out["model_version"] = uri
    return out


def predict_file(
    source: str | Path,
    out: str | Path,
    *,
    model: str | None = None,
    config: ProjectConfig | None = None,
    chunk_rows: int = CHUNK_ROWS,
    threads: int | None = None,
) -> dict[str, Any]:
    """Predict a CSV or Parquet file into ``out`` (CSV or Parquet by suffix), chunk by chunk.

    Both paths are checked before the model is loaded: ``source`` must be a readable,
    non-empty table and ``out`` must end in one of ``OUTPUT_SUFFIXES`` in an existing folder.
    Output goes to ``<out>.partial`` and is renamed only when every chunk succeeded, so a
    bad row (reported with its column and value) never leaves half a file behind. Returns
    ``{"rows", "out", "model"}``.

    ``threads`` chunks (default: up to 2, one per core) are scored at the same time in
    this process (the heavy parts, KNN search, BLAS and the boosters, release the GIL) and
    written in input order; memory grows by one chunk per thread, not by a model copy.
    """
    from tabloop._progress import track
    from tabloop.data import read_chunks

    source, out = Path(source), Path(out)
    _check_output(out)
    chunks = read_chunks(source, rows=chunk_rows)
    fitted, uri = load_model(model, config=config)
    tmp = out.with_name(out.name + ".partial")
    rows, writer = 0, None
    workers = threads if threads is not None else min(2, os.cpu_count() or 1)
    try:
        scored_chunks = _in_order(
            fitted.predict_frame, track(chunks, f"predicting {source.name}"), workers
        )
        for scored in scored_chunks:
            scored["model_version"] = uri
            if out.suffix.lower() == ".parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(scored, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            else:
                scored.to_csv(tmp, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(scored)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(out)
    return {"rows": rows, "out": str(out), "model": uri}


def _in_order(
    func: Callable[[pd.DataFrame], pd.DataFrame], items: Iterable[pd.DataFrame], workers: int
) -> Iterator[pd.DataFrame]:
    """``func`` of each item, computed by up to ``workers`` threads (``workers`` items in
    flight), yielded in input order; the first error is raised at its item's turn."""
    if workers <= 1:
        yield from map(func, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(workers, thread_name_prefix="tabloop-predict")
    pending: deque[Any] = deque()
    try:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: What :func:`predict_file` writes, by the output's suffix.
OUTPUT_SUFFIXES = (".csv", ".parquet")


def _check_output(out: Path) -> None:
    from tabloop.exceptions import DataError

    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        suffix = f"suffix {out.suffix!r}" if out.suffix else "no suffix"
        example = out.with_suffix(".csv").name
        raise DataError(
            f"Output file '{out}' has {suffix}; predictions are written as "
            f"{' or '.join(OUTPUT_SUFFIXES)}. Name the output e.g. '{example}'."
        )
    if out.is_dir():
        raise DataError(f"Output path '{out}' is a folder; expected a file name in it.")
    if not out.parent.is_dir():
        raise DataError(
            f"Output folder '{out.parent}' does not exist; create it, or write '{out.name}' "
            "to a folder that does."
        )


def _project_or_none() -> ProjectConfig | None:
    from tabloop.config import load_config
    from tabloop.exceptions import ConfigNotFoundError

    try:
        return load_config()
    except ConfigNotFoundError:
        return None
