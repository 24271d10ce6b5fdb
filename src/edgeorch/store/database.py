"""The database handle: engine, migrations, and the two kinds of session.

``session()`` is for reads; ``write()`` is one write transaction that commits on exit, so a write
is acknowledged (the context exits) only once it is durable. Writers are serialised: on SQLite by
``BEGIN IMMEDIATE`` (taken at the first statement), on PostgreSQL by locking the revision row
first thing. Reads run in one snapshot on both (SQLite WAL transactions; REPEATABLE READ on
PostgreSQL), so a list and the revision it reports agree.

Group commit (SQLite files): writers of this process that queue for the write lock while one is
writing share its transaction, each in a SAVEPOINT of its own, and the last of the queue commits
them all with one fsync. Each ``write()`` still exits only after that commit (a failed commit
fails every member), keeps its own revision, and an error in one rolls back only its savepoint.
PostgreSQL needs none of this (its WAL flushes concurrent commits together by itself).

A ``Database`` is safe to share between threads: the engine pools connections and every context
opens its own session.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Dialect, Engine, create_engine, event, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import StaticPool

from edgeorch.store.sql import documents
from edgeorch.store.sql.changes import REVISION_KEY, WRITABLE_KEY
from edgeorch.store.sql.objects import CLOCK_KEY, TENANTS_SEEN_KEY
from edgeorch.store.sql.orm import RevisionRow
from edgeorch.store.sql.prepared import CONNECTION_KEY
from edgeorch.store.sql.tenants import ensure_default_tenant

MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
DB_FILE_NAME = "edgeorch.db"
# Any constant works; it only has to be the same for every server sharing the database.
_MIGRATION_LOCK_KEY = 0x6564_6765_6F72_6368 & 0x7FFF_FFFF_FFFF_FFFF
_WRITE_OPTION = "edgeorch_write"
GROUP_MAX = 16  # writes sharing one SQLite transaction (and fsync) at most
SQLITE_POOL_SIZE = 24
_SQLITE_PRAGMAS = (
    # busy_timeout first, so switching to WAL waits for a concurrent opener instead of failing.
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    # FULL: fsync the WAL at every commit, so an acknowledged write survives power loss.
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    # Statement journals (a SAVEPOINT's undo log) in memory: on a file, every group-commit
    # member created, unlinked and closed a temporary file (eight system calls per write).
    "PRAGMA temp_store=MEMORY",
)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def default_sqlite_url(data_dir: Path) -> str:
    """The URL of the database file in a data directory."""
    return f"sqlite:///{(data_dir / DB_FILE_NAME).resolve()}"


def normalize_url(url: str) -> URL:
    """Parse ``url``; PostgreSQL URLs of any spelling get the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """One database: SQLite (a file) or PostgreSQL, chosen by the URL."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.url = normalize_url(url)
        self.clock = clock or utc_now
        self.engine = _create_engine(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite admits one writer at a time; a waiting connection polls with growing sleeps
        # (busy_timeout), which wastes most of the time under contention. Queue this process's
        # writers on a lock instead; other processes still fall back to busy_timeout.
        self._write_lock: threading.Lock | None = threading.Lock() if self.is_sqlite else None
        read_bind = self.engine
        if not self.is_sqlite:
            read_bind = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._write_bind = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._reads = sessionmaker(read_bind, expire_on_commit=False)
        self._writes = sessionmaker(self._write_bind, expire_on_commit=False)
        # Group commit (module docstring): not for an in-memory database, whose one shared
        # connection the readers use too.
        memory = self.url.database in (None, "", ":memory:")
        self._grouping = self.is_sqlite and not memory
        self._group: _Group | None = None
        # The groups' connection, kept from one group to the next (under the write lock): a
        # pool checkout, its reset and check-in cost more than the statements of a small write.
        self._writer: Connection | None = None
        self._queued = 0  # writers waiting for the write lock
        self._queued_lock = threading.Lock()
        self._grouped = sessionmaker(
            join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self._commit_callbacks: list[Callable[[], None]] = []
        for factory in (self._reads, self._writes, self._grouped):
            event.listen(factory, "after_transaction_end", _forget_revision)

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> None:
        """Bring the schema to the newest migration, ensure the ``default`` tenant, and rewrite
        the stored object JSON if the models changed since (``sql/documents.py``).

        Idempotent, and safe when several servers start at once: migrations run in one
        transaction under the write lock (SQLite) or an advisory lock (PostgreSQL).
        """
        config = alembic_config()
        with self.engine.execution_options(**{_WRITE_OPTION: True}).begin() as conn:
            if not self.is_sqlite:
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = conn
            command.upgrade(config, "heads")
        with self.write() as session:
            ensure_default_tenant(session=session)
            # List endpoints answer the stored JSON as it is: keep it the models' dump.
            documents.ensure_current(session)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session in one snapshot; committed on exit (reads may refresh bookkeeping)."""
        with self._reads() as session:
            session.info[CLOCK_KEY] = self.clock
            with session.begin():
                yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commits (durably) on normal exit, rolls back on error."""
        if self._grouping:
            with self._grouped_write() as session:
                yield session
            return
        with self._write_lock or nullcontext(), self._writes() as session:
            session.info[CLOCK_KEY] = self.clock
            session.info[WRITABLE_KEY] = True
            with session.begin():
                if not self.is_sqlite:
                    # Serialise writers from the start, so every read in the transaction sees
                    # the latest commit (READ COMMITTED) and a version check cannot go stale.
                    lock = select(RevisionRow.value).where(RevisionRow.id == 1).with_for_update()
                    session.execute(lock)
                yield session

    @contextmanager
    def _grouped_write(self) -> Iterator[Session]:
        """:meth:`write` with group commit (module docstring)."""
        lock = self._write_lock
        assert lock is not None
        with self._queued_lock:
            self._queued += 1
        lock.acquire()
        with self._queued_lock:
            self._queued -= 1
        group = self._group
        own: BaseException | None = None
        try:
            if group is None:
                group = self._group = self._new_group()
            session = self._grouped(bind=group.connection)
            session.info[CLOCK_KEY] = self.clock
            session.info[WRITABLE_KEY] = True
            try:
                with session.begin():  # a SAVEPOINT inside the group's transaction
                    yield session
            finally:
                session.close()
        except BaseException as exc:  # re-raised below, once the group is settled
            own = exc
        finally:
            committed = self._settle(group, own)
            lock.release()
        if committed is not None:
            self._notify()
        if own is not None:
            raise own
        assert group is not None
        group.done.wait()
        if group.error is not None:
            raise WriteNotCommitted(
                f"the write was rolled back with its commit group: {group.error}"
            ) from group.error

    def _new_group(self) -> "_Group":
        """Open a group's transaction on the kept writer connection (write lock held)."""
        if self._writer is None:
            self._writer = self._write_bind.connect()
        try:
            return _Group(self._writer)
        except BaseException:
            self._drop_writer()
            raise

    def _drop_writer(self) -> None:
        """Close the kept writer connection (after a failed group: the next one starts on a
        fresh connection, whatever state SQLite left this one in)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except SQLAlchemyError:
                writer.invalidate()

    def _settle(self, group: "_Group | None", own: BaseException | None) -> "_Group | None":
        """After one member (write lock held): commit the group when nobody queues behind it
        (or it is full, or broken); returns the group if this call committed it."""
        if group is None:
            return None
        if own is None:
            group.size += 1
        if not group.in_transaction():
            # SQLite rolled the whole transaction back (an I/O error, say): every member fails.
            group.error = group.error or own or RuntimeError("the write transaction was lost")
        with self._queued_lock:
            queued = self._queued
        if queued and group.size < GROUP_MAX and group.error is None:
            return None  # the next writer continues the transaction and settles it
        self._group = None
        try:
            group.finish()
            if group.error is not None:
                self._drop_writer()
        finally:
            group.done.set()
        return group if group.error is None else None

    def _notify(self) -> None:
        for callback in list(self._commit_callbacks):
            callback()

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after each write transaction of this process has committed (its
        changes are visible to new reads); returns the function that stops the calls."""

        def after_commit(_session: Session) -> None:
            callback()

        event.listen(self._writes, "after_commit", after_commit)
        self._commit_callbacks.append(callback)

        def remove() -> None:
            if event.contains(self._writes, "after_commit", after_commit):
                event.remove(self._writes, "after_commit", after_commit)
            if callback in self._commit_callbacks:
                self._commit_callbacks.remove(callback)

        return remove

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection (and the kept writer connection, unless a write is
        still running after 10 s: it then closes with the process)."""
        lock = self._write_lock
        if lock is not None and lock.acquire(timeout=10):
            try:
                self._drop_writer()
            finally:
                lock.release()
        self.engine.dispose()


class WriteNotCommitted(RuntimeError):
    """The transaction a write shared with others (group commit) failed to commit."""


class _Group:
    """One SQLite write transaction shared by the writers that queued behind each other."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        connection.begin()  # BEGIN IMMEDIATE (_on_sqlite_begin): waits for other processes
        self.size = 0  # members whose savepoint was released (their write stands)
        self.error: BaseException | None = None
        self.done = threading.Event()

    def in_transaction(self) -> bool:
        """Whether SQLite still has the group's transaction open (False after it rolled the
        whole transaction back by itself, or if the connection broke)."""
        try:
            driver = self.connection.connection.driver_connection
        except SQLAlchemyError:
            return False
        return bool(getattr(driver, "in_transaction", False))

    def finish(self) -> None:
        """Commit (durably; rolled back instead if broken). The caller then wakes the members
        waiting for the outcome (``done``)."""
        try:
            if self.error is None:
                self.connection.commit()
            else:
                self.connection.rollback()
        except BaseException as exc:
            self.error = self.error or exc


def alembic_config() -> Config:
    """An Alembic configuration built in code, pointing at the migrations inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _forget_revision(session: Session, transaction: SessionTransaction) -> None:
    # A revision is only valid inside the transaction that took it (and is undone with a
    # rolled-back savepoint), so it is dropped when the transaction or any savepoint ends; a
    # later write then takes a fresh one, which at worst leaves a gap. Flushes open internal
    # subtransactions too: those must not drop it, or one transaction would take several.
    # The connection the session's prepared statements use (``sql/prepared.py``) goes too.
    if transaction.parent is None or transaction.nested:
        session.info.pop(REVISION_KEY, None)
        session.info.pop(TENANTS_SEEN_KEY, None)
        session.info.pop(CONNECTION_KEY, None)


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        # One shared connection, else every connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
    else:
        # As many kept connections as requests read at once from the server's worker threads
        # (anyio's default limit is 40): with SQLAlchemy's default of 5, the others were
        # opened, set up (_on_sqlite_connect) and closed per request, 3 % of the server's CPU
        # while 10,000 agents joined. Each costs at most its page cache (2 MB by default).
        kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
    engine = create_engine(url, **kwargs)
    _plain_savepoints(engine.dialect)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _plain_savepoints(dialect: Dialect) -> None:
    """Send this engine's SAVEPOINT, RELEASE and ROLLBACK TO as plain driver SQL.

    The default compiles a new clause for every savepoint (each has a name of its own, so none
    is cached): about 60 µs of CPU per group-commit member (measured 2026-11-22), more than its
    INSERTs. The statements are the same text; only the compilation is skipped.
    """
    quote = dialect.identifier_preparer.quote

    def savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {quote(name)}")

    def release(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {quote(name)}")

    def rollback_to(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {quote(name)}")

    dialect.do_savepoint = savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = release  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = rollback_to  # type: ignore[method-assign]


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's documented recipe: stop pysqlite issuing BEGIN itself, so we choose the kind.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
    # fail with SQLITE_BUSY without waiting; an immediate one waits busy_timeout for its turn.
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
