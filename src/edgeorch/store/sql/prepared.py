"""Statements of the hottest write path, run straight on the driver's cursor.

Executing a cached Core statement still costs SQLAlchemy about 12 µs of Python per call
(execution context, parameter processing, result set-up), and ``Session.connection()`` a few
more: a node registration runs eight such statements, which together took longer than SQLite
took to run them (``bench/api_scale.py``, docs/benchmarks.md). A :class:`Prepared` statement is
compiled once per dialect, by SQLAlchemy, with the bind processors of its columns' types (JSON,
UTC datetimes), and then only its parameters are converted and handed to the DBAPI cursor of the
session's own connection, inside the session's transaction.

What it gives up, on purpose: statement events (``before_cursor_execute``: none are used on
these statements) and SQLAlchemy's wrapping of driver errors (a failing INSERT of a registration
is a bug, and an error either way). Transaction control (BEGIN, SAVEPOINT, COMMIT) stays with
SQLAlchemy.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any] | None


class _Compiled:
    """One statement compiled for one dialect: its SQL and how to build its parameters."""

    __slots__ = ("constants", "names", "positional", "processors", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: list[str] = list(compiled.positiontup or compiled.binds)
        # Binds with a value of their own (a literal in the statement, ``value + 1``).
        given = set(keys)
        self.constants: dict[str, Any] = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if name not in given and bind.callable is None and bind.value is not None
        }
        # The dialect's own implementation of each type (JSON as text on SQLite, JSONB on
        # PostgreSQL, SQLite's datetime text), as SQLAlchemy itself would process the value.
        self.processors: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.constants, **values} if self.constants else values
        processed = {}
        for name in self.names:
            value = merged[name]
            process = self.processors[name]
            processed[name] = value if process is None or value is None else process(value)
        if self.positional:
            return [processed[name] for name in self.names]
        return processed


class Prepared:
    """A Core statement run on the DBAPI cursor of a session's connection.

    ``keys`` are the parameter names every call passes (for an INSERT, the columns it sets).
    """

    def __init__(self, statement: ClauseElement, keys: Iterable[str] = ()) -> None:
        self._statement = statement
        self._keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = _Compiled(
                self._statement, dialect, self._keys
            )
        return compiled

    def _cursor(self, session: Session, values: Mapping[str, Any]) -> Any:
        connection = connection_of(session)
        compiled = self._compiled(connection)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(compiled.sql, compiled.parameters(values))
        return cursor

    def run(self, session: Session, values: Mapping[str, Any]) -> None:
        """Run the statement once."""
        self._cursor(session, values).close()

    def first(self, session: Session, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run the statement once and return its first row (of a SELECT or RETURNING)."""
        cursor = self._cursor(session, values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else tuple(row)

    def run_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row of parameters."""
        if not rows:
            return
        connection = connection_of(session)
        compiled = self._compiled(connection)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])
        finally:
            cursor.close()


CONNECTION_KEY = "edgeorch.connection"


def connection_of(session: Session) -> Connection:
    """The session's connection, looked up once per transaction (``Session.connection()``
    walks the session's transaction state on every call)."""
    connection: Connection | None = session.info.get(CONNECTION_KEY)
    if connection is None:
        connection = session.info[CONNECTION_KEY] = session.connection()
    return connection
