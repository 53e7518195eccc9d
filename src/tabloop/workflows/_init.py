"""``tabloop init``: write a commented ``tabloop.yaml`` inferred from a data file."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from tabloop.exceptions import ConfigError

_SKEW_FOR_LOG = 2.0


def init_project(
    data: str | os.PathLike[str],
    *,
    target: str | None,
    name: str | None = None,
    directory: str | os.PathLike[str] = ".",
    force: bool = False,
) -> Path:
    """Write ``tabloop.yaml`` in ``directory`` for ``data`` and return its path.

    The task, the id and time columns, the split strategy and skewed columns worth a log
    transform are inferred from the data and written with comments saying why. An existing
    file is kept unless ``force``. The result is read back and validated before returning.

    Examples
    --------
    >>> from tabloop.workflows import init_project
    >>> init_project("cases.csv", target="outcome", directory="proj")  # doctest: +SKIP
    PosixPath('proj/tabloop.yaml')
    """
    from tabloop.config import load_config
    from tabloop.data import (
        frame,
        infer_schema,
        infer_task,
        likely_codes,
        load_data,
        positive_label,
    )

    folder = Path(directory)
    out = folder / "tabloop.yaml"
    if out.exists() and not force:
        raise ConfigError(f"'{out}' already exists; pass --force to overwrite it.")
    df = load_data(data)
    if target is not None:
        frame.require_columns(df, [target], role="target column")
    schema = infer_schema(df, target=target, strict=False)
    task = infer_task(df[target] if target else None)
    id_col = next((c.name for c in schema if c.kind == "id"), None)
    time_col = next((c.name for c in schema if c.kind == "datetime"), None)
    data_path = Path(data).resolve()
    if data_path.is_relative_to(folder.resolve()):  # inside the project: keep it portable
        data_path = data_path.relative_to(folder.resolve())
    project = name or _slug(Path(data).name.split(".")[0])

    lines = [
        f"# tabloop project file, written by `tabloop init` on {date.today()} "
        f"from {Path(data).name}.",
        "# Every key is described in the README (Config reference); unknown keys are errors.",
        f"name: {_q(project)}",
        "",
        "data:",
        f"  train: {_q(str(data_path))}  # CSV or Parquet, relative to this file",
        '  # sql: {query: "SELECT * FROM cases", url: "postgresql+psycopg://user@host/db"}',
    ]
    if target is None:
        lines.append("  # target: COLUMN  # no target: the task is clustering")
    else:
        lines.append(
            f"  target: {_q(target)}  # {_describe_target(df[target], task, positive_label)}"
        )
    lines.append(
        f"  id: {_q(id_col)}  # unique per row, never a feature"
        if id_col
        else "  # id: COLUMN  # entity id: never a feature, matches outcomes to predictions"
    )
    lines.append(
        f"  time: {_q(time_col)}  # split and monitor by time"
        if time_col
        else "  # time: COLUMN  # event time: enables the time-based split"
    )
    lines += ["", f"task: {task}  # binary | multiclass | regression | clustering", ""]

    # codes (999, -1, not_known) as tabloop profile flags them: read as missing before the
    # skew is judged (an age with 999s is not skewed, its codes are), and declared below
    codes = likely_codes(df, [c for c in schema.features if schema[c].kind != "id"])
    skewed = _skewed(df, schema, codes)
    kinds = ", ".join(f"{c.name} ({c.kind})" for c in schema if c.name not in {target, id_col})
    lines += [
        "features:",
        f"  # found: {kinds}",
        "  drop: []  # columns never used as features",
        "  categorical: []  # force these columns to be categorical",
        "  numeric: []  # force these columns to be numeric",
        f"  log: {json.dumps(skewed)}  # log-transform skewed non-negative columns"
        + (f" (skew > {_SKEW_FOR_LOG})" if skewed else ""),
        '  derive: {}  # new columns from formulas, e.g. {ratio: "a / b"}',
        "",
        "profile:",
        "  leakage_cutoff: 0.9  # flag a column whose ROC-AUC alone (R² if regression) reaches it",
        "  by: []  # group columns: distributions of every column per group",
        "",
        "split:",
        f"  strategy: {'time' if time_col else ('stratified' if target else 'random')}"
        "  # stratified | random | group | time",
        "  test_size: 0.2",
        "  seed: 0",
        "",
        *_prepare_lines(codes),
        "# prepare, train, evaluate, serve and monitor sections: see the README.",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_config(out)  # what init writes must load
    return out


def _describe_target(y: Any, task: str, positive_label: Any) -> str:
    if task == "binary":
        positive = positive_label(y)
        share = (y.dropna().astype("string").str.lower() == str(positive).lower()).mean()
        return f"binary, positive class {positive!r} ({100 * share:.1f}% of rows)"
    if task == "multiclass":
        return f"multiclass, {y.nunique()} classes"
    return f"regression, mean {y.mean():.4g}"


def _skewed(df: Any, schema: Any, codes: list[dict[str, Any]]) -> list[str]:
    """Numeric features without negative values and with skew above ``_SKEW_FOR_LOG``,
    judged on their values with the likely missing-value ``codes`` left out."""
    out = []
    for col in schema:
        if col.kind != "numeric" or col.name == schema.target:
            continue
        values = df[col.name]
        coded = [e["value"] for e in codes if e["column"] == col.name]
        values = values[~values.isin(coded)] if coded else values
        skew = values.skew()
        if values.min() >= 0 and skew == skew and skew > _SKEW_FOR_LOG:
            out.append(col.name)
    return out


def _prepare_lines(codes: list[dict[str, Any]]) -> list[str]:
    """An active ``prepare.missing_values`` for ``codes``, each column's evidence in a
    comment (active: the log choice above was judged with them missing, so the model must
    see them the same way; a real value is kept by deleting its entry)."""
    import textwrap

    from tabloop.data import missing_values_items

    if not codes:
        return []
    lines = [
        "prepare:",
        "  # likely missing-value codes, as tabloop profile flags them: read as missing",
        "  # in training, scoring and serving (features.log was judged without them);",
        "  # delete an entry whose value is real",
        "  missing_values:",
    ]
    by_column: dict[str, list[dict[str, Any]]] = {}
    for e in codes:
        by_column.setdefault(e["column"], []).append(e)
    for entries in by_column.values():
        for e in entries:
            said = f"{e['value']!r}: {e['rows']:,} rows ({100 * e['share']:.1f}%), {e['why']}"
            lines += textwrap.wrap(said, 78, initial_indent="    # ", subsequent_indent="    #   ")
        lines += [f"    {item}" for item in missing_values_items(entries)]
    return [*lines, ""]


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return slug or "project"


def _q(value: str | None) -> str:
    return json.dumps(value)
