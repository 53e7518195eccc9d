"""README: ``tabloop predict`` scores a file in chunks, and "a bad row stops the run with its
column and value and leaves no partial file" -- also when the bad row sits in a later chunk,
after earlier chunks were already written."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_monitor_cli import write_project

CHUNK_ROWS = 50_000  # tabloop predict's chunk (tabloop.registry); the bad row is in chunk 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_bad_row_in_a_later_chunk_leaves_no_output_and_no_partial_file(
    tmp_path, stops_model, suffix
):
    folder = write_project(tmp_path, stops_model)
    stops = stops_model["df"]
    repeats = -(-(2 * CHUNK_ROWS + 10_000) // len(stops))
    big = pd.concat([stops] * repeats, ignore_index=True).astype({"vehicle_age": object})
    bad_row = 2 * CHUNK_ROWS + 5_000
    big.loc[bad_row, "vehicle_age"] = "ancient"
    big.drop(columns=["found"]).to_csv(folder / "big.csv", index=False)

    out = folder / f"scored{suffix}"
    result = run("predict", "big.csv", "-o", out.name, cwd=folder)
    assert_one_line_error(result, "'vehicle_age'", "'ancient'")
    assert not out.exists()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("scored")) == []


def test_outputs_and_inputs_that_cannot_work_are_refused_before_the_model_loads(tmp_path):
    """README: a non-empty output folder, a glob that matches nothing and an output URL are
    refused (exit 2) before the model loads: the model named here does not exist."""
    pd.DataFrame({"x": [1, 2]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.parquet").write_bytes(b"x")
    model = ("--model", "models:/nothing/99")
    result = run("predict", "in.csv", "-o", "full", *model, cwd=tmp_path)
    assert_one_line_error(result, "Output 'full' is a folder that is not empty")
    result = run("predict", "new/*.parquet", "-o", "out", *model, cwd=tmp_path)
    assert_one_line_error(result, "No CSV or Parquet file matches 'new/*.parquet'")
    result = run("predict", "in.csv", "-o", "s3://bucket/out", *model, cwd=tmp_path)
    assert_one_line_error(result, "is a URL")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "in.csv"]
