"""Database: URLs, SQLite pragmas and transaction kinds, thread safety, health."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from edgeorch.schemas import NodeCreate
from edgeorch.store import Database, create_node, current_revision, default_sqlite_url, list_changes
from edgeorch.store.database import MIGRATIONS_DIR, normalize_url

URLS = [
    ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:////var/lib/edgeorch/edgeorch.db", "sqlite:////var/lib/edgeorch/edgeorch.db"),
]


@pytest.mark.parametrize(("given", "expected"), URLS)
def test_urls_are_normalised_to_psycopg(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


def test_default_sqlite_url_is_absolute(tmp_path: Path) -> None:
    assert default_sqlite_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/edgeorch.db"


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))


PRAGMAS = [
    ("journal_mode", "wal"),
    ("synchronous", 2),
    ("foreign_keys", 1),
    ("busy_timeout", 10000),
]


@pytest.mark.parametrize(("pragma", "expected"), PRAGMAS)
def test_sqlite_pragmas_on_every_connection(
    sqlite_db: Database, pragma: str, expected: object
) -> None:
    for context in (sqlite_db.session, sqlite_db.write):
        with context() as s:
            assert s.execute(text(f"PRAGMA {pragma}")).scalar_one() == expected


def test_writes_begin_immediate_and_reads_deferred(sqlite_db: Database) -> None:
    begins: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(sqlite_db.engine, "before_cursor_execute", record)
    with sqlite_db.write() as s:
        current_revision(session=s)
    with sqlite_db.session() as s:
        current_revision(session=s)
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def _node(name: str) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "edge_type": "cdn",
                "region": "r",
                "location": {"latitude": 0, "longitude": 0},
                "country": "FR",
                "capacity": {"cpu": 1},
            },
        }
    )


def test_concurrent_writers_get_distinct_revisions_in_commit_order(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        start = current_revision(session=s)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(15):
                with sqlite_db.write() as s:
                    create_node(session=s, node=_node(f"w{worker}-{i}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite_db.session() as s:
        revisions = [c.revision for c in list_changes(session=s, since=start)]
    assert revisions == list(range(start + 1, start + 91))


def test_ping_and_dispose(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path))
    assert db.ping() is True
    db.dispose()
    assert Database(f"sqlite:///{tmp_path}/missing-dir/x.db").ping() is False
    assert "secret" not in repr(Database("postgresql://u:secret@h/db"))
