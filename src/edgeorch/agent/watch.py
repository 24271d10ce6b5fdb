"""Server side of the assignment watch: wait until a node's assignment set changes.

The wait polls the store's change feed every ``poll_interval`` seconds, so a write made by another
process or another server replica is noticed within that interval. Writes committed by this
process wake waiters at once through :class:`ChangeSignal` (a fast path, never relied on for
correctness: a wake-up missed between a poll and the registration is caught by the next poll).
"""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from edgeorch.store import Assignments, Database, list_changes, read_assignments

WATCHED_KINDS = ("Instance", "Workload")
DEFAULT_POLL_INTERVAL = 0.1
# Write sessions carry this execution option (store/database.py); reads commit too, and waking
# watchers on their own polling reads would spin.
_WRITE_OPTION = "edgeorch_write"


class ChangeSignal:
    """Wakes asyncio waiters (on any loop) when this process commits a write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def attach(self, database: Database) -> None:
        """Notify on every write transaction committed through ``database``'s engine."""

        def on_commit(conn: Any) -> None:
            if conn.get_execution_options().get(_WRITE_OPTION):
                self.notify()

        event.listen(database.engine, "commit", on_commit)

    def notify(self) -> None:
        """Wake every current waiter."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, flag in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(flag.set)

    async def wait(self, timeout: float) -> None:
        """Return after a notification or ``timeout`` seconds, whichever comes first."""
        flag = asyncio.Event()
        key = (asyncio.get_running_loop(), flag)
        with self._lock:
            self._waiters.add(key)
        try:
            await asyncio.wait_for(flag.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)


def _read(database: Database, node_id: str) -> Assignments:
    with database.session() as session:
        return read_assignments(session=session, node_id=node_id)


def _changed_since(database: Database, revision: int) -> bool:
    with database.session() as session:
        return bool(list_changes(session=session, since=revision, limit=1, kinds=WATCHED_KINDS))


async def wait_for_assignments(
    database: Database,
    signal: ChangeSignal,
    *,
    node_id: str,
    digest: str | None,
    timeout: float,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Assignments, bool]:
    """The node's assignments and whether they differ from ``digest``; waits up to ``timeout``
    seconds for them to differ. Without a digest the current set is answered at once."""
    current = await asyncio.to_thread(_read, database, node_id)
    deadline = clock() + timeout
    while digest is not None and current.digest == digest:
        remaining = deadline - clock()
        if remaining <= 0:
            return current, False
        await signal.wait(min(poll_interval, remaining))
        if await asyncio.to_thread(_changed_since, database, current.revision):
            current = await asyncio.to_thread(_read, database, node_id)
    return current, True
