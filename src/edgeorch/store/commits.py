"""Noticing commits of other processes cheaply: SQLite's ``PRAGMA data_version``.

A reader that follows the change feed learns of this process's commits from a hook
(``Database.on_commit``); commits of another process (the controller process, another server
replica) it can only find by reading. Reading the feed costs about 0.5 ms of CPU, so readers poll
it rarely. On SQLite there is a much cheaper question: ``PRAGMA data_version`` on a connection of
one's own changes whenever any other connection, of this process or another, commits to the
file (about 6 µs). A reader asks it often and reads the feed only when it moved.

PostgreSQL has no such counter here; readers there poll the feed (``CommitCounter.open`` returns
None).
"""

import contextlib
import logging
import sqlite3

from edgeorch.store.database import Database

log = logging.getLogger("edgeorch.store")

HINT_INTERVAL = 0.01  # seconds between two readings, for readers that wait on other processes


class CommitCounter:
    """``PRAGMA data_version`` on a read-only SQLite connection of the caller's own."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, database: Database, purpose: str) -> "CommitCounter | None":
        """A counter for a SQLite file; None for PostgreSQL or an in-memory database (the
        caller then polls the feed). ``purpose`` names the reader in the warning when the file
        cannot be opened read-only."""
        path = database.url.database if database.is_sqlite else None
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        try:
            connection = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            counter = cls(connection)
            counter.version()
        except sqlite3.Error as exc:
            log.warning("%s: no commit counter on %s (%s); polls the feed", purpose, path, exc)
            return None
        return counter

    def version(self) -> int:
        """The current data version (compare two readings; the value itself means nothing)."""
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(sqlite3.Error):
            self._connection.close()
