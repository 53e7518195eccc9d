"""Shared fixtures: the real datasets of ../shared/datasets, scratch folders, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.stops import stops_model  # noqa: F401  (a session fixture: one training per run)

REPO = Path(__file__).resolve().parents[1]


def _find_datasets() -> Path:
    """``$TABLOOP_DATASETS``, else a ``shared/datasets`` folder beside a parent of the repo."""
    if os.environ.get("TABLOOP_DATASETS"):
        return Path(os.environ["TABLOOP_DATASETS"])
    for parent in [REPO, *REPO.parents]:
        candidate = parent / "shared" / "datasets"
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/datasets")


DATASETS = _find_datasets()
DATASET_FILES = [
    "arrests",
    "titanic",
    "german_credit",
    "hr",
    "hr_test",
    "apartments",
    "apartments_test",
]


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"The shared datasets are not at {DATASETS}; set TABLOOP_DATASETS.")
    return DATASETS


@pytest.fixture(scope="session")
def load(datasets: Path):
    """Read a shared dataset by name with plain pandas (the independent reference)."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(datasets / f"{name}.csv")

    return read


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _postgres_url() -> str | None:
    url = os.environ.get(
        "TABLOOP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception:
        return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _postgres_url()
    if url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 (database test) is not reachable")
    return url


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema, dropped after the test."""
    import sqlalchemy as sa

    schema = f"tabloop_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


#: Tests of several minutes: collected first, so that with ``make test``'s two pytest-xdist
#: workers they run beside the rest of the suite instead of after it.
LONGEST = ("tests/cli/test_cli.py::test_demo_runs_the_loop_and_says_where_to_look",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid not in LONGEST)
