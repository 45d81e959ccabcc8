"""Shared fixtures. ``store`` runs on SQLite, and also on PostgreSQL when LASERDASH_TEST_PG_URL is set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.records.store import Store  # noqa: E402

import uuid  # noqa: E402

import pg  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """An admin URL of a PostgreSQL server: $LASERDASH_TEST_PG_URL, else a throwaway local server.

    Skipped with the reason when neither is possible, except under CI, where the PostgreSQL
    tests must run.
    """
    given = os.environ.get("LASERDASH_TEST_PG_URL", "").strip()
    if given:
        yield given
        return
    server, why = pg.start()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail(why + " CI must run the PostgreSQL tests.")
        pytest.skip(why)
    yield server.url
    server.stop()


@pytest.fixture
def pg_url(pg_admin_url) -> str:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """A fresh, empty database URL for each test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url) -> Store:
    s = Store(store_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def corpus() -> Path:
    return ROOT / "tests" / "corpus"
