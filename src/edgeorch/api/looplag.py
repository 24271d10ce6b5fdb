"""How late the server's event loop runs, and how long it has stalled since a moment.

Every heartbeat is read and answered on the event loop. When the loop stalls (the machine is
overloaded, the process is starved of CPU or of the GIL), heartbeats wait in the socket, and the
node-lifecycle controller would count that wait as the nodes' silence: a control plane that
falls behind would turn healthy nodes ``suspect``, and the writes, events and alerts that follow
make it fall further behind. So the server measures its own stalls, and the lifecycle does not
count them as silence (``controllers/nodes.py``): a node's silence is the time since it was last
heard from minus the time the loop was stalled since then.

A task sleeps ``TICK`` seconds at a time; whatever it oversleeps by more than ``TOLERANCE`` is a
stall, recorded with the wall-clock time it ended. Each tick is also observed in the
``edgeorch_event_loop_lag_seconds`` histogram.
"""

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from edgeorch.observability.metrics import EVENT_LOOP_LAG

TICK = 0.1  # seconds
TOLERANCE = 0.05  # lateness below this is scheduling noise, not a stall
KEEP = 3600.0  # seconds of stalls kept (longer than any down-after)


class LoopLag:
    """Stalls of one event loop, readable from any thread."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ends: deque[float] = deque()  # wall time (epoch seconds) each stall ended
        self._lengths: deque[float] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start measuring on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def record(self, length: float, ended: datetime) -> None:
        """Note a stall of ``length`` seconds that ended at ``ended``."""
        end = ended.timestamp()
        with self._lock:
            self._ends.append(end)
            self._lengths.append(length)
            while self._ends and self._ends[0] < end - KEEP:
                self._ends.popleft()
                self._lengths.popleft()

    def stalled_since(self, moment: datetime) -> float:
        """Seconds the loop was stalled after ``moment`` (a stall that began before it counts
        only from ``moment``)."""
        start = moment.timestamp()
        total = 0.0
        with self._lock:  # newest first, up to the moment: the recent stalls only
            for end, length in zip(reversed(self._ends), reversed(self._lengths), strict=True):
                if end <= start:
                    break
                total += min(length, end - start)
        return total

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK)
            late = time.monotonic() - before - TICK
            EVENT_LOOP_LAG.observe(max(0.0, late))
            if late > TOLERANCE:
                self.record(late, self._clock())
