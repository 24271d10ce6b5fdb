"""The ``database`` fixture: one migrated store per test, on SQLite and on PostgreSQL.

PostgreSQL isolation: each test gets a fresh schema, selected through the connection's
``search_path`` so the migrations and every query run inside it; the schema is dropped after.
Without a reachable server the postgres case is skipped, or fails when ``CI`` is set.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from edgeorch.store import Database, default_sqlite_url
from edgeorch.store.database import normalize_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path, clock: FakeClock) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(default_sqlite_url(tmp_path), clock=clock)
        db.migrate()
        yield db
        db.dispose()
        return
    yield from _postgres_database(clock)


def _postgres_database(clock: FakeClock) -> Iterator[Database]:
    base = normalize_url(os.environ.get("EDGEORCH_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {base.render_as_string()} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    db = Database(url.render_as_string(hide_password=False), clock=clock)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
