"""``tabloop predict``: score files, folders or globs, in this process or on a Dask cluster.

The input is cut into pieces (:func:`tabloop.data.plan_pieces`); each piece is read and
scored where it runs (in chunks, so memory holds a chunk, never the table) and written as
one part into a hidden staging folder beside the output. Only when every piece succeeded
are the parts moved into place: renamed into a folder of Parquet parts, or joined into one
CSV or Parquet file. A bad row stops the run naming its file, row and column, and the
staging folder is removed, so no partial output is ever left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tabloop.exceptions import DataError, EmptyDataError, TabloopError
from tabloop.registry._predict import load_model

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.data import Piece
    from tabloop.train import TabloopModel

R = TypeVar("R")

CHUNK_ROWS = 50_000
#: One output file, by its suffix; an output without a suffix is a folder of Parquet parts.
OUTPUT_SUFFIXES = (".csv", ".parquet")


def predict_file(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str | None = None,
    config: ProjectConfig | None = None,
    cluster: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    piece_rows: int | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Predict ``source`` (a CSV/Parquet file, a folder of them or a glob) into ``out``.

    ``out`` ending in ``.csv`` or ``.parquet`` is one file; without a suffix it is a folder
    (new or empty) of Parquet parts, one per piece of the input. ``cluster`` (else the
    project's ``scale.cluster``, else ``TABLOOP_CLUSTER``) runs the pieces on Dask workers:
    ``local:N`` or a scheduler address; each worker receives the model once and reads its
    pieces itself. Without one, pieces run here, ``threads`` chunks at a time (default: up
    to 2, one per core; the heavy parts release the GIL). ``chunk_rows`` rows are scored
    at a time; Parquet row groups are grouped into pieces of about ``piece_rows`` rows
    (default :data:`tabloop.data.PIECE_ROWS`).

    Paths are checked before the model is loaded. Returns ``{"rows", "out", "model",
    "files", "pieces", "workers", "cluster", "without_history"}`` (``cluster`` None: this
    process; ``without_history``: for a model with ``features.lags``, the rows whose
    entity had no earlier value within the lags' reach, else None).

    Examples
    --------
    >>> from tabloop.registry import predict_file
    >>> predict_file("new/*.parquet", "scored", cluster="local:2")  # doctest: +SKIP
    """
    from tabloop.data import PIECE_ROWS, find_data_files, plan_pieces
    from tabloop.registry._predict import _project_or_none
    from tabloop.scale import cluster_address, open_runner

    target = Path(out)
    as_folder = _check_output(target)
    files = find_data_files(source)
    pieces = plan_pieces(files, rows=piece_rows or PIECE_ROWS)
    project = config if config is not None else _project_or_none()
    where = cluster_address(cluster, project.scale.cluster if project is not None else None)
    part_format = "csv" if target.suffix.lower() == ".csv" else "parquet"
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    try:
        with open_runner(where) as runner:
            fitted, uri = load_model(model, config=project)
            done = runner.map(
                score_piece,
                list(enumerate(pieces)),
                description=f"predicting {_name(source)}",
                model=runner.share(fitted),
                uri=uri,
                staging=str(staging),
                part_format=part_format,
                chunk_rows=chunk_rows,
                # a worker runs one task per thread: chunk threads would oversubscribe it
                threads=threads or (1 if runner.address else min(2, os.cpu_count() or 1)),
            )
            workers, address = runner.workers, runner.address
        without_history = sum(n for _, n in done) if fitted.reads_history else None
        counts = [rows for rows, _ in done]
        if sum(counts) == 0:
            raise EmptyDataError(f"No rows to predict in {_name(source)}.")
        parts = [staging / _part(i, part_format) for i, n in enumerate(counts) if n]
        if as_folder:
            _move_parts(parts, target)
        else:
            _join(parts, [p for p, n in zip(pieces, counts, strict=True) if n], target)
    finally:
        _remove(staging)
    return {
        "rows": sum(counts),
        "out": str(target),
        "model": uri,
        "files": len(files),
        "pieces": len(pieces),
        "workers": workers,
        "cluster": address,
        "without_history": without_history,
    }


def score_piece(
    item: tuple[int, Piece],
    *,
    model: TabloopModel,
    uri: str,
    staging: str,
    part_format: str,
    chunk_rows: int,
    threads: int,
) -> tuple[int, int]:
    """Score one piece into ``staging``/part-NNNNN (runs on a worker); its row count and
    how many of its rows had no history for ``features.lags`` (0 without lags).

    An error names the piece's file (validation messages name the row in the file)."""
    import pyarrow.parquet as pq

    def scored_chunk(chunk: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        scored = model.predict_frame(chunk)  # validates the chunk first
        alone = model.without_history(chunk) if model.reads_history else None
        return scored, 0 if alone is None else int(alone.sum())

    index, piece = item
    path = Path(staging) / _part(index, part_format)
    rows, without_history, writer = 0, 0, None
    try:
        chunks: Iterable[pd.DataFrame] = piece.read(chunk_rows=chunk_rows)
        if model.reads_history:  # a lag model's rows are each other's history: one frame
            import pandas as pd

            chunks = [pd.concat(list(chunks))]
        for scored, alone in _in_order(scored_chunk, chunks, threads):
            without_history += alone
            scored["model_version"] = uri
            if part_format == "parquet":
                table = _arrow(scored, writer.schema if writer else None, piece)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
            else:
                scored.to_csv(path, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(scored)
    except TabloopError as exc:
        if piece.path not in str(exc):
            exc.args = (f"{piece.path}: {exc}", *exc.args[1:])
        raise
    finally:
        if writer is not None:
            writer.close()
    return rows, without_history


def _arrow(scored: pd.DataFrame, schema: Any, piece: Piece) -> Any:
    """``scored`` as an Arrow table of the part's ``schema`` (the first chunk's, a column
    with no value there taken as text); a column whose values change kind between chunks
    (numbers, then text in a CSV file) is a :class:`DataError` naming it."""
    import pyarrow as pa

    try:
        if schema is not None:
            return pa.Table.from_pandas(scored, schema=schema, preserve_index=False)
        table = pa.Table.from_pandas(scored, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        rows = f"rows {scored.index[0]}-{scored.index[-1]}"
        raise DataError(
            f"{piece.path}: {rows} do not fit the types of the rows before them "
            f"({str(exc).splitlines()[0]}); give the column one type, or write a .csv output."
        ) from None
    text = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(text))


def _in_order(
    func: Callable[[pd.DataFrame], R], items: Iterable[pd.DataFrame], workers: int
) -> Iterator[R]:
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


def _part(index: int, part_format: str) -> str:
    return f"part-{index:05d}.{part_format}"


def _name(source: str | os.PathLike[str]) -> str:
    text = os.fspath(source)
    return Path(text).name if "://" not in text and not any(c in text for c in "*?[") else text


def _check_output(out: Path) -> bool:
    """Whether ``out`` is a folder of parts (no suffix); :class:`DataError` when it cannot
    be written: a URL, an unknown suffix, a missing parent folder, a folder not empty."""
    if "://" in str(out) or str(out).startswith(("s3:", "gs:")):
        raise DataError(
            f"Output '{out}' is a URL; predictions are written to a local or shared folder "
            "(copy them to object storage afterwards)."
        )
    if not out.parent.is_dir():
        raise DataError(
            f"Output folder '{out.parent}' does not exist; create it, or write '{out.name}' "
            "to a folder that does."
        )
    if not out.suffix:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            what = "a folder that is not empty" if out.is_dir() else "a file"
            raise DataError(
                f"Output '{out}' is {what}; a folder of Parquet parts is written only into a "
                "new or empty folder."
            )
        return True
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        example = out.with_suffix(".csv").name
        raise DataError(
            f"Output file '{out}' has suffix {out.suffix!r}; predictions are written as "
            f"{' or '.join(OUTPUT_SUFFIXES)}, or as a folder of Parquet parts (a name "
            f"without a suffix). Name the output e.g. '{example}'."
        )
    if out.is_dir():
        raise DataError(f"Output path '{out}' is a folder; expected a file name in it.")
    return False


def _move_parts(parts: list[Path], out: Path) -> None:
    """The parts into the folder ``out`` (created, or the empty one checked before)."""
    out.mkdir(exist_ok=True)
    for part in parts:
        part.replace(out / part.name)


def _remove(staging: Path) -> None:
    """Remove the staging folder; tasks that were still running when the run stopped may
    write a last part meanwhile, so try again until it is gone (a few seconds at most)."""
    import time

    for _ in range(20):
        shutil.rmtree(staging, ignore_errors=True)
        if not staging.exists():
            return
        time.sleep(0.5)


def _join(parts: list[Path], pieces: list[Piece], out: Path) -> None:
    """The parts, in order, as one file ``out`` (written aside, then renamed)."""
    tmp = out.with_name(f".{out.name}.joining")
    try:
        if out.suffix.lower() == ".csv":
            _join_csv(parts, pieces, tmp)
        else:
            _join_parquet(parts, pieces, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _join_csv(parts: list[Path], pieces: list[Piece], tmp: Path) -> None:
    header = None
    with tmp.open("wb") as sink:
        for part, piece in zip(parts, pieces, strict=True):
            with part.open("rb") as source:
                first = source.readline()
                if header is None:
                    header = first
                    sink.write(first)
                elif first != header:
                    _different_columns(piece, header.decode().rstrip(), first.decode().rstrip())
                shutil.copyfileobj(source, sink, 1 << 20)


def _join_parquet(parts: list[Path], pieces: list[Piece], tmp: Path) -> None:
    """The parts as one Parquet file, each cast to the types all parts share (a column
    that is int64 in one file and float64 in another becomes float64), else to the first
    part's types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(part) for part in parts]
    for schema, piece in zip(schemas[1:], pieces[1:], strict=True):
        if schema.names != schemas[0].names:
            _different_columns(piece, ",".join(schemas[0].names), ",".join(schema.names))
    try:
        shared = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        shared = schemas[0]  # e.g. timestamps in one file, their text in a CSV: parsed
    with pq.ParquetWriter(tmp, shared) as writer:
        for part, piece in zip(parts, pieces, strict=True):
            with pq.ParquetFile(part) as file:
                for group in range(file.num_row_groups):
                    try:
                        table = file.read_row_group(group).cast(shared)
                    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
                        raise DataError(
                            f"'{piece.path}' gives a column another type than the first "
                            f"file ({str(exc).splitlines()[0]}); write to a folder of "
                            "Parquet parts (an output name without a suffix) instead."
                        ) from None
                    writer.write_table(table)


def _different_columns(piece: Piece, first: str, this: str) -> None:
    raise DataError(
        f"'{piece.path}' has other columns than the first file ({this} vs {first}); predict "
        "the files separately, or into a folder of Parquet parts (an output without a suffix)."
    )
