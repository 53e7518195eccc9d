"""`tabloop log` at 80 columns with values wider than their column: each value folds onto
the next lines of its row, whole, and the prediction and outcome columns stay on screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tabloop.store import PredictionRecord, Store
from tests.cli.test_cli import run
from tests.cli.test_serve_cli import write_project

T0 = datetime(2026, 12, 5, 8, tzinfo=UTC)
VARIANTS = ["challenger-gradient-boosting-2026-12", "A"]


def record(i: int) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=f"p{i:04d}",
        created_at=T0 + timedelta(minutes=i),
        variant=VARIANTS[i % 2],
        model_name="spend",
        model_version="1",
        entity_id=f"customer-{i}-0f8fad5b-d9cb-469f-a165-70867728950e",
        request_id=None,
        inputs={"months": i, "city": "Lyon", "spend": 10.5 * i},
        context={"channel": "web"},
        prediction=100.0 + 2.25 * i,
        score=None,
        probabilities=None,
        latency_ms=1.0,
    )


def cells_by_row(lines: list[str]) -> list[dict[str, str]]:
    """Each row of the table as {header: its cell's text joined over the row's lines}: a
    row starts with a time, its continuation lines with blanks; a column spans from its
    header's first character to the next header's."""
    header = next(line for line in lines if line.startswith("time (UTC)"))
    names = re.findall(r"\S+(?: \S+)*", header)
    starts = [header.index(name) for name in names]
    spans = list(zip(starts, [*starts[1:], None], strict=True))
    rows: list[dict[str, list[str]]] = []
    for line in lines[lines.index(header) + 2 :]:
        if re.match(r"\d{4}-\d{2}-\d{2} ", line):
            rows.append({name: [] for name in names})
        for name, (start, end) in zip(names, spans, strict=True):
            piece = line[start:end].strip()
            if piece:
                rows[-1][name].append(piece)
    return [{name: "".join(pieces) for name, pieces in row.items()} for row in rows]


def test_long_variants_and_entities_fold_whole_at_80_columns(tmp_path: Path):
    folder = write_project(tmp_path)
    store = Store(f"sqlite:///{folder / 'log.db'}")
    store.open()
    store.insert_predictions([record(i) for i in range(3)])
    store.close()

    shown = run("log", cwd=folder, columns=80)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(map(len, lines)) <= 80, shown.stdout
    assert "…" not in shown.stdout, shown.stdout
    rows = cells_by_row(lines)
    newest = [record(i) for i in (2, 1, 0)]
    assert [r["variant"] for r in rows] == [r.variant for r in newest], shown.stdout
    assert [r["entity"] for r in rows] == [r.entity_id for r in newest], shown.stdout
    assert [r["prediction"] for r in rows] == [f"{r.prediction:g}" for r in newest]
    assert [(r["outcome"], r["batch"]) for r in rows] == [("–", "–")] * 3
