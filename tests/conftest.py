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

from analysis.store import Store, metadata  # noqa: E402

PG_URL = os.environ.get("LASERDASH_TEST_PG_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """A fresh, empty database URL for each test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    engine = sa.create_engine(PG_URL)
    metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


@pytest.fixture
def store(store_url) -> Store:
    s = Store(store_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def corpus() -> Path:
    return ROOT / "tests" / "corpus"
