"""The agent's local state: ``<data dir>/agent.db`` (SQLite, WAL, ``synchronous=FULL``).

Schema::

    meta(key TEXT PRIMARY KEY, value TEXT)     server, node_id, node_name, credential,
                                               revision, digest
    assignments(instance_id TEXT PRIMARY KEY,  the desired set: one AssignmentItem as JSON
                body TEXT)                     per instance, replaced as a whole
    tasks(instance_id TEXT PRIMARY KEY,        what runs: the driver's handle, the hash of the
          driver TEXT, handle TEXT,            spec it runs, the port the ingress proxies to
          spec_hash TEXT, port INTEGER,        and when it started
          started_at TEXT)

Invariants:

- A desired set is committed (fsynced) before the agent acts on it, and a set with a revision
  older than the stored one is never stored: delivery is at-least-once, applying is idempotent.
- The node credential is stored here (file mode 0600) and the join token never is.
"""

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeorch.agent.protocol import AssignmentItem

FILE_NAME = "agent.db"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS assignments (instance_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tasks (instance_id TEXT PRIMARY KEY, driver TEXT NOT NULL,"
    " handle TEXT NOT NULL, spec_hash TEXT NOT NULL, port INTEGER, started_at TEXT NOT NULL)",
)


@dataclass(frozen=True)
class Identity:
    """Who this agent is on which control plane."""

    server: str
    node_id: str
    node_name: str
    credential: str


@dataclass(frozen=True)
class DesiredSet:
    """The last assignment set received, at ``revision`` with ``digest``."""

    revision: int
    digest: str
    items: list[AssignmentItem]


@dataclass(frozen=True)
class TaskRecord:
    """A task the agent started, as persisted for recovery."""

    instance_id: str
    driver: str
    handle: dict[str, Any]
    spec_hash: str
    port: int | None
    started_at: str


class LocalState:
    """Thread-safe access to ``agent.db``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = data_dir / FILE_NAME
        path.touch(mode=0o600, exist_ok=True)
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a set the agent acted on must survive a power cut, or it could act twice.
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def _set_meta(self, values: dict[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def identity(self) -> Identity | None:
        """The stored identity, or None before the first join."""
        with self._lock:
            meta = self._meta()
        if "credential" not in meta:
            return None
        return Identity(meta["server"], meta["node_id"], meta["node_name"], meta["credential"])

    def save_identity(self, identity: Identity) -> None:
        """Store the identity durably (the credential is not shown again)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_meta(
                {
                    "server": identity.server,
                    "node_id": identity.node_id,
                    "node_name": identity.node_name,
                    "credential": identity.credential,
                }
            )
            self._db.execute("COMMIT")

    def desired(self) -> DesiredSet:
        """The stored desired set (revision 0, no items before the first one)."""
        with self._lock:
            meta = self._meta()
            rows = self._db.execute("SELECT body FROM assignments ORDER BY instance_id").fetchall()
        items = [AssignmentItem.model_validate_json(body) for (body,) in rows]
        return DesiredSet(int(meta.get("revision", "0")), meta.get("digest", ""), items)

    def save_desired(self, desired: DesiredSet) -> bool:
        """Replace the desired set unless it is older than the stored one; True if stored."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stored = int(self._meta().get("revision", "0"))
                if desired.revision < stored:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute("DELETE FROM assignments")
                self._db.executemany(
                    "INSERT INTO assignments (instance_id, body) VALUES (?, ?)",
                    [(i.instance_id, i.model_dump_json()) for i in desired.items],
                )
                self._set_meta({"revision": str(desired.revision), "digest": desired.digest})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def tasks(self) -> list[TaskRecord]:
        """Every task record."""
        with self._lock:
            rows = self._db.execute(
                "SELECT instance_id, driver, handle, spec_hash, port, started_at FROM tasks"
            ).fetchall()
        return [TaskRecord(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def save_task(self, record: TaskRecord) -> None:
        """Insert or replace a task record."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.instance_id,
                    record.driver,
                    json.dumps(record.handle),
                    record.spec_hash,
                    record.port,
                    record.started_at,
                ),
            )

    def delete_task(self, instance_id: str) -> None:
        """Forget a task."""
        with self._lock:
            self._db.execute("DELETE FROM tasks WHERE instance_id = ?", (instance_id,))
