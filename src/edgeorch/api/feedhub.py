"""One change-feed reader shared by every ``/api/v1/stream`` client.

The hub runs one asyncio task on the server's loop while at least one client listens (and for
``IDLE_SECONDS`` after the last one leaves). The task waits for a commit of this process
(``Database.on_commit``) or ``poll_interval`` seconds (writes by another server replica sharing
PostgreSQL), but never reads more often than every ``MIN_PASS_SECONDS``. It reads the changes
after the last revision it has seen and turns them into one :class:`Batch`: per changed object its
latest compact record (``edgeorch.api.fleetview``), so a burst of 1,000 heartbeats is one read of
1,000 rows and one message, not 1,000. The database is therefore read by one task, however many
clients there are.

Batches are kept in a bounded buffer covering the revisions ``(floor, head]``. A client resumes
from any revision inside it (``since``, or the SSE ``Last-Event-ID``); a client that asks for a
revision older than ``floor`` (it was away too long, or the hub restarted after idling) gets a
*reset*: it must reload its snapshot (``GET /api/v1/dashboard/fleet``) and reconnect from the
revision that reports.

Invariants:
- ``floor <= head``, and every batch in the buffer has ``floor < revision <= head``, in order;
- a change of revision ``r`` is in exactly the batch with the smallest revision ``>= r``;
- at most ``max_clients`` clients are subscribed at once.
"""

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from edgeorch.api.fleetview import read_records
from edgeorch.store import Change, Database, current_revision, list_changes

log = logging.getLogger("edgeorch.stream")

DEFAULT_MAX_CLIENTS = 64
DEFAULT_POLL_INTERVAL = 0.25
MIN_PASS_SECONDS = 0.1  # a busy fleet commits hundreds of times a second: batch them
IDLE_SECONDS = 10.0
BUFFER_RECORDS = 50_000  # records kept for resuming clients (about 2 min of a 10k-node fleet)
PAGE = 2000  # changes read per pass
# After idling, a backlog longer than this many revisions is not replayed: clients reload.
RESTART_CATCHUP = 5000


def max_clients_from_env() -> int:
    """``EDGEORCH_STREAM_MAX_CLIENTS`` or 64."""
    text = os.environ.get("EDGEORCH_STREAM_MAX_CLIENTS", "")
    try:
        value = int(text) if text else DEFAULT_MAX_CLIENTS
    except ValueError as exc:
        raise ValueError(
            f"EDGEORCH_STREAM_MAX_CLIENTS={text!r} is not a whole number of clients"
        ) from exc
    if value < 1:
        raise ValueError(f"EDGEORCH_STREAM_MAX_CLIENTS={value} must be at least 1")
    return value


class TooManyClients(Exception):
    """Every stream slot is taken."""


class ResetNeeded(Exception):
    """The client's revision is older than the buffer: reload the snapshot at ``head``."""

    def __init__(self, since: int, floor: int, head: int) -> None:
        super().__init__(
            f"revision {since} is older than the oldest one this server can resume from "
            f"({floor}); reload the snapshot"
        )
        self.head = head


@dataclass(frozen=True)
class Batch:
    """The changes read in one pass, up to ``revision``; one record per changed object."""

    revision: int
    records: list[dict[str, Any]] = field(default_factory=list)


class StreamHub:
    """The shared reader and its buffer; see the module docstring."""

    def __init__(
        self,
        database: Database,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        idle_seconds: float = IDLE_SECONDS,
        buffer_records: int = BUFFER_RECORDS,
    ) -> None:
        self._database = database
        self.max_clients = max_clients
        self._poll = poll_interval
        self._idle = idle_seconds
        self._buffer_records = buffer_records
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unlisten = database.on_commit(self._on_commit)
        self._batches: deque[Batch] = deque()
        self._buffered = 0
        self.floor = -1
        self.head = -1
        self.clients = 0
        self.passes = 0  # reads of the change feed, for tests and the docs' claim
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Condition()

    # -- clients -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def subscribe(self, since: int | None) -> AsyncIterator[int]:
        """Hold a client slot for the ``async with`` body; starts the reader if it is idle.
        Answers the revision the client starts after (``since`` or the current head)."""
        if self.clients >= self.max_clients:
            raise TooManyClients(f"{self.clients} stream clients already connected")
        self.clients += 1
        try:
            if self._task is None or self._task.done():
                await self._start(since)
            yield self.head if since is None else since
        finally:
            self.clients -= 1

    def after(self, since: int) -> list[Batch]:
        """The buffered batches with changes newer than ``since``; raises :class:`ResetNeeded`
        when ``since`` is older than the buffer."""
        if since < self.floor:
            raise ResetNeeded(since, self.floor, self.head)
        return [b for b in self._batches if b.revision > since]

    async def wait(self, since: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a batch newer than ``since``; True if one came."""
        async with self._new:
            if self.head > since:
                return True
            try:
                await asyncio.wait_for(self._new.wait(), timeout)
            except TimeoutError:
                return False
            return self.head > since

    def close(self) -> None:
        """Stop listening to commits and stop the reader."""
        self._unlisten()
        if self._task is not None:
            self._task.cancel()

    # -- the reader ----------------------------------------------------------------------------

    async def _start(self, since: int | None) -> None:
        current = await asyncio.to_thread(self._current)
        fresh = self.head < 0 or current - self.head > RESTART_CATCHUP
        if fresh:
            self._batches.clear()
            self._buffered = 0
            start = current
            if since is not None and 0 <= current - since <= RESTART_CATCHUP:
                start = since
            self.floor = self.head = start
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="stream-hub")

    def _on_commit(self) -> None:
        # Called in whichever thread committed; hand the wake-up to the hub's loop.
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _current(self) -> int:
        with self._database.session() as session:
            return current_revision(session=session)

    async def _run(self) -> None:
        idle_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            if self.clients == 0:
                idle_since = idle_since or loop.time()
                if loop.time() - idle_since >= self._idle:
                    return
            else:
                idle_since = None
            assert self._wake is not None
            self._wake.clear()  # a commit from here on makes the next pass come at once
            try:
                batch, full = await asyncio.to_thread(self._read, self.head)
            except Exception:
                log.exception("stream: reading the change feed failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            self.passes += 1
            if batch is not None:
                self._push(batch)
                async with self._new:
                    self._new.notify_all()
            if not full:
                await self._sleep()

    async def _sleep(self) -> None:
        assert self._wake is not None
        await asyncio.sleep(MIN_PASS_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(self._poll - MIN_PASS_SECONDS, 0))

    def _read(self, since: int) -> tuple[Batch | None, bool]:
        with self._database.session() as session:
            changes = list_changes(session=session, since=since, limit=PAGE)
            if not changes:
                return None, False
            latest: dict[tuple[str, str], Change] = {}
            for change in changes:
                latest.pop((change.kind, change.object_id), None)
                latest[(change.kind, change.object_id)] = change
            by_kind: dict[str, list[str]] = {}
            for kind, object_id in latest:
                by_kind.setdefault(kind, []).append(object_id)
            found = {
                kind: read_records(session=session, kind=kind, ids=ids)
                for kind, ids in by_kind.items()
            }
        records = [_record(change, found[change.kind]) for change in latest.values()]
        return Batch(changes[-1].revision, records), len(changes) >= PAGE

    def _push(self, batch: Batch) -> None:
        self._batches.append(batch)
        self._buffered += len(batch.records)
        self.head = batch.revision
        while self._buffered > self._buffer_records and len(self._batches) > 1:
            dropped = self._batches.popleft()
            self._buffered -= len(dropped.records)
            self.floor = dropped.revision


def _record(change: Change, found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    obj = found.get(change.object_id)
    # Deleted, or deleted later in the same pass: the dashboard drops it either way.
    op = "deleted" if obj is None and change.kind in ("Node", "Instance", "Workload") else change.op
    return {
        "kind": change.kind,
        "op": op,
        "id": change.object_id,
        "name": change.name,
        "tenant": change.tenant,
        "revision": change.revision,
        "object": obj,
    }


def visible(records: list[dict[str, Any]], tenant: str | None, since: int) -> Iterator[Any]:
    """The records newer than ``since`` that ``tenant`` (None: every tenant) may see."""
    for record in records:
        if record["revision"] > since and (tenant is None or record["tenant"] == tenant):
            yield record
