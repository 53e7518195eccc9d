import uuid
from pathlib import Path

import pandas as pd
import pytest

from tabloop.data import load_data, load_sql
from tabloop.exceptions import (
    DataFileNotFoundError,
    DataSourceError,
    EmptyDataError,
)


def test_csv_is_read_as_pandas_reads_it(datasets, load):
    df = load_data(datasets / "titanic.csv")
    pd.testing.assert_frame_equal(df, load("titanic"))


def test_parquet_round_trip_keeps_values_and_types(tmp_path, load):
    expected = load("german_credit")
    expected.to_parquet(tmp_path / "g.parquet")
    pd.testing.assert_frame_equal(load_data(tmp_path / "g.parquet"), expected)


def test_compressed_csv_is_read(tmp_path, load):
    expected = load("arrests")
    expected.to_csv(tmp_path / "a.csv.gz", index=False)
    pd.testing.assert_frame_equal(load_data(tmp_path / "a.csv.gz"), expected)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="'.*nope.csv' does not exist"):
        load_data(tmp_path / "nope.csv")


def test_missing_file_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_data(tmp_path / "nope.csv")


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EmptyDataError, match="is empty"):
        load_data(tmp_path / "empty.csv")


def test_header_only_file_is_rejected_with_column_count(tmp_path):
    (tmp_path / "header.csv").write_text("a,b,c\n")
    with pytest.raises(EmptyDataError, match=r"has a header \(3 columns\) but no rows"):
        load_data(tmp_path / "header.csv")


def test_whitespace_only_file_is_rejected(tmp_path):
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(EmptyDataError):
        load_data(tmp_path / "blank.csv")


def test_unknown_suffix_is_rejected(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataSourceError, match="suffix '.xlsx'"):
        load_data(tmp_path / "data.xlsx")


def test_corrupt_parquet_is_a_data_source_error(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataSourceError, match="Cannot read .* as Parquet"):
        load_data(tmp_path / "bad.parquet")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(DataSourceError, match="is a directory"):
        load_data(tmp_path)


def test_sql_query_on_sqlite_file(tmp_path, load):
    import sqlalchemy as sa

    expected = load("titanic")
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    engine = sa.create_engine(url)
    expected.to_sql("cases", engine, index=False)
    engine.dispose()
    df = load_sql("SELECT * FROM cases WHERE class = '1st'", url)
    want = expected[expected["class"] == "1st"].reset_index(drop=True)
    pd.testing.assert_frame_equal(df, want, check_dtype=False)


def test_sql_url_reads_variables_from_the_environment(tmp_path, load, monkeypatch):
    import sqlalchemy as sa

    monkeypatch.setenv("CASES_DB", str(tmp_path / "cases.db"))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cases.db'}")
    load("german_credit").to_sql("cases", engine, index=False)
    engine.dispose()
    assert len(load_sql("SELECT * FROM cases", "sqlite:///$CASES_DB")) == 1000


def test_sql_query_returning_no_rows_is_empty_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(EmptyDataError, match="returned no rows"):
        load_sql("SELECT 1 AS a WHERE 1 = 0", url)


def test_sql_url_that_cannot_connect_is_named_with_password_masked():
    url = "postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(DataSourceError, match="Cannot connect to database") as info:
        load_sql("SELECT 1", url)
    assert "s3cret" not in str(info.value)
    assert "alice:***@127.0.0.1:1/nowhere" in str(info.value)


def test_malformed_sql_url_says_what_is_expected():
    with pytest.raises(DataSourceError, match="not a valid SQLAlchemy URL"):
        load_sql("SELECT 1", "not a url")


def test_sql_url_with_unknown_dialect_is_a_data_source_error():
    with pytest.raises(DataSourceError, match="Cannot use SQL URL"):
        load_sql("SELECT 1", "nosuchdb://host/db")


def test_bad_query_is_reported(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(DataSourceError, match="no such table"):
        load_sql("SELECT * FROM missing_table", url)


@pytest.mark.postgres
def test_sql_query_on_postgresql(postgres_url, load):
    import sqlalchemy as sa

    table = f"cases_{uuid.uuid4().hex[:8]}"
    expected = load("arrests")
    engine = sa.create_engine(postgres_url)
    try:
        expected.to_sql(table, engine, index=False)
        df = load_sql(f"SELECT * FROM {table} WHERE year >= 2000 ORDER BY 1", postgres_url)
        assert len(df) == int((expected["year"] >= 2000).sum())
        assert list(df.columns) == list(expected.columns)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_path_objects_and_strings_are_both_accepted(datasets):
    assert load_data(str(datasets / "hr.csv")).shape == load_data(Path(datasets / "hr.csv")).shape
