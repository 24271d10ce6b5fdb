"""Fixtures of the store unit tests: a virtual clock and a migrated SQLite database."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from edgeorch.store import Database, default_sqlite_url


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


@pytest.fixture
def sqlite_db(tmp_path, clock: FakeClock) -> Iterator[Database]:
    db = Database(default_sqlite_url(tmp_path), clock=clock)
    db.migrate()
    yield db
    db.dispose()
