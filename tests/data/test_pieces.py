"""Sources of many files: a file, a folder or a glob, cut into pieces at row groups."""

from __future__ import annotations

import pandas as pd
import pytest

from tabloop.data import Piece, find_data_files, plan_pieces
from tabloop.exceptions import DataFileNotFoundError, EmptyDataError


@pytest.fixture
def files(tmp_path):
    frame = pd.DataFrame({"x": range(2500), "y": [f"v{i}" for i in range(2500)]})
    (tmp_path / "in" / "day=1").mkdir(parents=True)
    frame.iloc[:1000].to_parquet(tmp_path / "in" / "day=1" / "a.parquet", row_group_size=300)
    frame.iloc[1000:].to_csv(tmp_path / "in" / "b.csv", index=False)
    (tmp_path / "in" / "_SUCCESS").write_text("")
    (tmp_path / "in" / ".hidden.csv").write_text("x\n1\n")
    (tmp_path / "in" / "notes.txt").write_text("not data")
    (tmp_path / "in" / "_temporary" / "0").mkdir(parents=True)
    (tmp_path / "in" / "_temporary" / "0" / "part.parquet").write_bytes(b"")
    (tmp_path / "in" / ".out.partial").mkdir()
    (tmp_path / "in" / ".out.partial" / "part-00000.csv").write_text("x\n1\n")
    return tmp_path, frame


def test_a_folder_gives_its_data_files_recursively_and_skips_markers(files):
    tmp_path, _ = files
    found = find_data_files(tmp_path / "in")
    assert found == [str(tmp_path / "in" / "b.csv"), str(tmp_path / "in" / "day=1" / "a.parquet")]


def test_a_glob_gives_the_files_it_matches_sorted(files):
    tmp_path, _ = files
    assert find_data_files(str(tmp_path / "in" / "**" / "*.parquet")) == [
        str(tmp_path / "in" / "day=1" / "a.parquet")
    ]


def test_a_glob_matching_folders_searches_them_and_skips_markers(files):
    tmp_path, _ = files
    assert find_data_files(str(tmp_path / "in" / "day=*") + "/") == [
        str(tmp_path / "in" / "day=1" / "a.parquet")
    ]
    assert find_data_files(str(tmp_path / "in" / "*")) == [
        str(tmp_path / "in" / "b.csv"),
        str(tmp_path / "in" / "day=1" / "a.parquet"),
    ]


def test_a_glob_that_matches_nothing_says_so(tmp_path):
    with pytest.raises(
        DataFileNotFoundError, match=r"No CSV or Parquet file matches '.*\*\.parquet'"
    ):
        find_data_files(str(tmp_path / "*.parquet"))


def test_a_folder_without_data_files_says_what_was_looked_for(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="holds no CSV or Parquet file"):
        find_data_files(tmp_path)


def test_parquet_is_cut_at_row_groups_and_rows_keep_their_place_in_the_file(files):
    tmp_path, frame = files
    pieces = plan_pieces(find_data_files(tmp_path / "in"), rows=500)
    parquet = [p for p in pieces if p.kind == ".parquet"]
    # row groups of 300, 300, 300, 100 grouped up to >= 500 rows
    assert [(p.first_row, p.rows, p.row_groups) for p in parquet] == [
        (0, 600, (0, 1)),
        (600, 400, (2, 3)),
    ]
    second = pd.concat(parquet[1].read(chunk_rows=150))
    assert list(second.index) == list(range(600, 1000))
    pd.testing.assert_frame_equal(second, frame.iloc[600:1000])
    csv = next(p for p in pieces if p.kind == ".csv")
    assert csv == Piece(str(tmp_path / "in" / "b.csv"), ".csv")
    rows = pd.concat(csv.read(chunk_rows=700))
    assert list(rows.index) == list(range(1500))
    assert rows["y"].tolist() == frame["y"].iloc[1000:].tolist()


def test_files_without_rows_give_no_piece_and_none_at_all_is_an_error(tmp_path):
    pd.DataFrame({"x": pd.Series([], dtype=float)}).to_parquet(tmp_path / "empty.parquet")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(EmptyDataError, match="No rows in '.*empty.parquet'"):
        plan_pieces([str(tmp_path / "empty.parquet")])
    with pytest.raises(EmptyDataError, match="No rows in any of 2 files"):
        plan_pieces(find_data_files(tmp_path))


def test_urls_are_read_through_fsspec_folder_glob_and_pieces(files):
    """A URL source (here ``file://``; ``s3://`` and ``gs://`` take the same path with
    their filesystem package installed) is listed, cut and read like a local path."""
    tmp_path, frame = files
    url = f"file://{tmp_path / 'in'}"
    found = find_data_files(url)
    assert found == [f"{url}/b.csv", f"{url}/day=1/a.parquet"]
    assert find_data_files(f"{url}/*/*.parquet") == [f"{url}/day=1/a.parquet"]
    assert find_data_files(f"{url}/day=*/") == [f"{url}/day=1/a.parquet"]
    pieces = plan_pieces(found, rows=500)
    rows = pd.concat(chunk for piece in pieces for chunk in piece.read(chunk_rows=400))
    assert sorted(rows["x"].tolist()) == list(range(2500))
