"""Waiting on the change feed from a controller thread, and a node cache that follows it.

:class:`FeedWaiter` returns as soon as the store has a change after a revision: writes committed
by this process wake it at once (a commit hook sets a ``threading.Event``); writes by another
process (the API server when the controllers run in their own process, another server replica)
are noticed on SQLite within ``HINT_INTERVAL`` (``store/commits.py``: the feed is read when the
file's commit counter moved) and otherwise by a poll of the feed every ``poll`` seconds. A
missed wake-up is therefore only ever late by one poll, never lost.
"""

import threading
import time
from collections.abc import Collection

from sqlalchemy import select

from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import Node
from edgeorch.store import Database, current_revision, list_changes, list_nodes
from edgeorch.store.commits import HINT_INTERVAL, CommitCounter
from edgeorch.store.sql.nodes import to_node
from edgeorch.store.sql.orm import NodeRow

_CHUNK = 500  # node ids per IN (...) query


class FeedWaiter:
    """Blocks a thread until the change feed moves past a revision, or a timeout."""

    def __init__(self, database: Database, *, poll: float = 0.5) -> None:
        self._database = database
        self._poll = poll
        self._wake = threading.Event()
        self._poked = threading.Event()
        self._unlisten = database.on_commit(self._wake.set)
        self._commits = CommitCounter.open(database, "controller feed")

    def close(self) -> None:
        """Stop listening to commits."""
        self._unlisten()
        self._wake.set()
        if self._commits is not None:
            self._commits.close()

    def poke(self) -> None:
        """End the current (or next) wait at once (shutdown, or another controller wants a
        pass)."""
        self._poked.set()
        self._wake.set()

    def wait(self, since: int, timeout: float, kinds: Collection[str] | None = None) -> bool:
        """True as soon as a change of ``kinds`` newer than ``since`` exists; False on timeout
        or when poked."""
        deadline = time.monotonic() + timeout
        while True:
            self._wake.clear()
            if self._poked.is_set():
                self._poked.clear()
                return False
            # Read the counter before the feed: a commit after this reading moves it again.
            seen = None if self._commits is None else self._commits.version()
            with self._database.session() as session:
                if list_changes(session=session, since=since, limit=1, kinds=kinds):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(self._poll, remaining), seen)

    def _sleep(self, seconds: float, seen: int | None) -> None:
        """Until a commit of this process, a commit of another (the counter moved past
        ``seen``), a poke, or ``seconds``."""
        commits = self._commits
        if commits is None or seen is None:
            self._wake.wait(seconds)
            return
        until = time.monotonic() + seconds
        while not self._wake.wait(min(HINT_INTERVAL, max(0.0, until - time.monotonic()))):
            if commits.version() != seen or time.monotonic() >= until:
                return


class NodeCache:
    """Every node, kept in step with the change feed (``refresh`` reads only what changed).

    With ``joined_only`` the cache leaves out nodes that have never joined (``pending``): the
    node lifecycle and the reconciler have nothing to do with them, and reading and parsing
    each pre-registered node was most of what a burst of registrations cost the controllers
    (26 % of the server's CPU in ``NodeCache.refresh``, 2026-11-22). A pending node that joins
    is a change like any other and is read then."""

    def __init__(self, database: Database, *, joined_only: bool = False) -> None:
        self._database = database
        self._joined_only = joined_only
        self.revision = -1
        self.nodes: dict[str, Node] = {}
        # Ids the last refresh read (changed or deleted); None after the first, full read.
        self.changed: list[str] | None = None

    def refresh(self) -> dict[str, Node]:
        """Bring the cache to the store's current revision; return it (do not mutate)."""
        with self._database.session() as session:
            if self.revision < 0:
                self.changed = None
                self.revision = current_revision(session=session)
                token: str | None = None
                while True:
                    page = list_nodes(
                        session=session, tenant=None, limit=1000, continue_token=token
                    )
                    self.nodes.update(
                        (n.metadata.id, n)
                        for n in page.items
                        if not (self._joined_only and n.status.state is NodeState.PENDING)
                    )
                    token = page.continue_token
                    if token is None:
                        return self.nodes
            changes = list_changes(session=session, since=self.revision, kinds=("Node",))
            changed = sorted({c.object_id for c in changes})
            self.changed = changed
            for start in range(0, len(changed), _CHUNK):
                # One query per chunk of changed nodes, not one per change: every persisted
                # heartbeat is a node change, hundreds a second on a large fleet.
                chunk = changed[start : start + _CHUNK]
                query = select(NodeRow).where(NodeRow.id.in_(chunk))
                if self._joined_only:
                    query = query.where(NodeRow.state != NodeState.PENDING.value)
                rows = session.scalars(query)
                found = {row.id: to_node(row) for row in rows}
                for node_id in chunk:
                    if node_id in found:
                        self.nodes[node_id] = found[node_id]
                    else:
                        self.nodes.pop(node_id, None)
            if changes:
                self.revision = changes[-1].revision
        return self.nodes
