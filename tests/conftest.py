"""The ``database`` fixture: one migrated store per test, on SQLite and on PostgreSQL.

Each test gets a store of its own, in the state ``Database.migrate()`` leaves a new one in.
Migrating costs 0.1-0.4 s (Alembic, then the default tenant), paid about 400 times a run, so
the session migrates one template store per backend with the real ``migrate()`` and each test
gets a copy: the SQLite file copied into its ``tmp_path``; on PostgreSQL a new schema made by
replaying ``pg_dump`` of the template schema. A test whose clock was moved before the store was
made, or a PostgreSQL without a usable ``pg_dump``, gets its store migrated as before.

PostgreSQL isolation: each test gets a fresh schema, selected through the connection's
``search_path`` so every query runs inside it; the schema is dropped after. Without a reachable
server the postgres case is skipped, or fails when ``CI`` is set.
"""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from edgeorch.store import Database, default_sqlite_url
from edgeorch.store.database import normalize_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[Database]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        if clock.now == START:
            shutil.copyfile(template, tmp_path / template.name)
        db = Database(default_sqlite_url(tmp_path), clock=clock)
        if clock.now != START:
            db.migrate()
        yield db
        db.dispose()
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    yield from postgres.database(clock)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated once, with the clock every test's clock starts at."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    db = Database(default_sqlite_url(directory), clock=FakeClock())
    db.migrate()
    db.dispose()
    (path,) = directory.iterdir()  # disposing checkpoints the WAL: the store is one file
    return path


class Postgres:
    """The test server, and the SQL that makes a migrated schema (``None``: migrate each)."""

    def __init__(self, base: URL, admin: Engine) -> None:
        self.base = base
        self.admin = admin
        self.template_name = f"t_template_{uuid.uuid4().hex}"
        self.template_sql: str | None = None

    def url(self, schema: str) -> str:
        url = self.base.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def make_template(self) -> None:
        """Migrate a template schema and keep ``pg_dump``'s SQL for it, if pg_dump works."""
        schema = self.template_name
        with self.admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            db = Database(self.url(schema), clock=FakeClock())
            db.migrate()
            db.dispose()
            self.template_sql = _dump_schema(self.base, schema)
        finally:
            with self.admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    def database(self, clock: FakeClock) -> Iterator[Database]:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        copy = self.template_sql is not None and clock.now == START
        with self.admin.begin() as conn:
            if copy:
                assert self.template_sql is not None
                conn.exec_driver_sql(self.template_sql.replace(self.template_name, schema))
            else:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
        db = Database(self.url(schema), clock=clock)
        try:
            if not copy:
                db.migrate()
            yield db
        finally:
            db.dispose()
            with self.admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def _dump_schema(base: URL, schema: str) -> str | None:
    """``pg_dump`` of one schema as plain SQL (psql's backslash commands left out), or
    ``None`` when pg_dump is missing or fails (for one, an older pg_dump than the server)."""
    if shutil.which("pg_dump") is None:
        return None
    env = dict(os.environ)
    if base.password is not None:
        env["PGPASSWORD"] = str(base.password)
    dsn = base.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    dsn = dsn.split("?", 1)[0]
    command = ["pg_dump", "--dbname", dsn, "--schema", schema, "--no-owner", "--no-privileges"]
    result = subprocess.run(
        [*command, "--inserts"], env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        return None
    lines = result.stdout.splitlines()
    return "\n".join(line for line in lines if not line.startswith("\\"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    base = normalize_url(os.environ.get("EDGEORCH_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    admin = create_engine(base, connect_args={"connect_timeout": 3})
    server = Postgres(base, admin)
    try:
        server.make_template()
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {base.render_as_string()} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    admin.dispose()
