"""The simulator's driver: models start time and resource use behind the real driver protocol.

A simulated node runs no code. Each task becomes ``starting`` when started and ``running`` once a
modelled start delay has passed on the injected clock; its resources are the workload's requested
ones, so a node's utilization follows what was placed on it. The start delays are drawn from a
seeded generator, uniformly inside a band per runtime:

| runtime     | start delay | why |
|-------------|-------------|-----|
| ``wasm``    | 5-50 ms     | wasmtime instantiates a pre-compiled module in milliseconds |
| ``process`` | 0.2-1.5 s   | fork/exec plus an interpreter or server warm-up |
| ``container`` | 1-4 s     | image already pulled; runc create + start and the app's warm-up |
| ``vm``      | 8-25 s      | a guest kernel boot |

The driver serves every runtime word (it is registered under ``sim`` and the simulated agent
routes all assignments to it), so a workload of any runtime can be "run" on a simulated node.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeorch.agent.drivers.base import (
    DriverError,
    DriverFingerprint,
    TaskHandle,
    TaskNotFound,
    TaskSpec,
    TaskState,
    TaskStatus,
    check_task_id,
)
from edgeorch.agent.drivers.registry import register_driver

NAME = "sim"
START_DELAY_SECONDS: dict[str, tuple[float, float]] = {
    "wasm": (0.005, 0.05),
    "process": (0.2, 1.5),
    "container": (1.0, 4.0),
    "vm": (8.0, 25.0),
}
DEFAULT_START_DELAY = (0.5, 2.0)


@dataclass
class _SimTask:
    spec: TaskSpec
    started: float
    ready_at: float
    failed: str = ""


class SimDriver:
    """In-memory tasks whose state is a function of the clock; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        start_delays: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random(0)
        self._delays = start_delays if start_delays is not None else START_DELAY_SECONDS
        self._tasks: dict[str, _SimTask] = {}

    @property
    def name(self) -> str:
        """Always ``sim``."""
        return NAME

    def fingerprint(self) -> DriverFingerprint:
        """Always healthy: nothing on the host is needed."""
        return DriverFingerprint(NAME, True, "1", {"runtimes": ",".join(sorted(self._delays))})

    def start(self, task: TaskSpec) -> TaskHandle:
        """Record the task as starting; it becomes running after its modelled delay."""
        check_task_id(task.task_id)
        low, high = self._delays.get(task.runtime, DEFAULT_START_DELAY)
        now = self._clock()
        self._tasks[task.task_id] = _SimTask(task, now, now + self._rng.uniform(low, high))
        return TaskHandle(task.task_id, NAME, {"runtime": task.runtime})

    def stop(self, task_id: str, timeout: float = 10.0) -> None:
        """Forget the task (idempotent)."""
        self._tasks.pop(task_id, None)

    def status(self, task_id: str) -> TaskStatus:
        """``starting`` until the task's ready time, then ``running`` (or ``failed`` if a fault
        was injected)."""
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no simulated task {task_id!r} on this node")
        if task.failed:
            return TaskStatus(task_id, TaskState.FAILED, reason=task.failed, limits="sim")
        running = self._clock() >= task.ready_at
        state = TaskState.RUNNING if running else TaskState.STARTING
        return TaskStatus(task_id, state, limits="sim")

    def recover(self, handle: TaskHandle) -> bool:
        """A simulated task survives only in this process's memory."""
        return handle.task_id in self._tasks

    def logs(self, task_id: str, tail: int = 100) -> list[str]:
        """One synthetic line saying what the task is and since when."""
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no simulated task {task_id!r} on this node")
        return [f"simulated {task.spec.runtime} task started at t={task.started:.3f}"][-tail:]

    def snapshot(self, task_id: str) -> bytes:
        """A small JSON record: a simulated task's state is only its identity."""
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no simulated task {task_id!r} on this node")
        return json.dumps({"task_id": task_id, "runtime": task.spec.runtime}).encode()

    def restore(self, task: TaskSpec, snapshot: bytes) -> TaskHandle:
        """Start ``task`` again; a restored task skips the cold-start delay."""
        try:
            json.loads(snapshot)
        except ValueError as exc:
            raise DriverError(f"simulated snapshot is not JSON: {exc}") from exc
        handle = self.start(task)
        self._tasks[task.task_id].ready_at = self._clock()
        return handle

    # -- simulator-only ------------------------------------------------------------------------

    def fail(self, task_id: str, reason: str) -> None:
        """Mark a task failed (fault injection); unknown ids are ignored."""
        task = self._tasks.get(task_id)
        if task is not None:
            task.failed = reason

    def usage(self) -> tuple[float, int]:
        """vCPU and MB requested by the tasks that are not failed."""
        live = [t.spec for t in self._tasks.values() if not t.failed]
        return sum(s.cpu for s in live), sum(s.memory_mb for s in live)

    def task_ids(self) -> list[str]:
        """Every task this driver holds."""
        return list(self._tasks)


def _factory(data_dir: Path) -> SimDriver:
    return SimDriver()


def register() -> None:
    """Register the simulated driver under ``sim`` in the agent's driver registry. Not done on
    import, so that a real agent never offers it by accident."""
    register_driver(NAME, _factory)
