"""Runs the desired set through the drivers and says how each instance is doing.

``converge(items)`` makes the running tasks match the desired set: it stops tasks no longer
assigned (or whose spec changed) and starts missing ones. ``recover(desired)`` does the same after
an agent restart, re-attaching to tasks that survived (``Driver.recover``) before starting anew.
All methods are synchronous and serialised by one lock; the agent calls them from a worker
thread.

Invariants:

- One instance's failure (bad module, missing command, digest mismatch, limit exceeded) is
  recorded for that instance with the driver's reason and never stops the others.
- A failure is final for the spec that caused it; a new spec (a new workload generation) tries
  again. An artifact that could not be fetched because the control plane was unreachable is not
  a failure: the instance stays ``pending`` and the next converge retries.
"""

import dataclasses
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from edgeorch.agent.artifacts import ArtifactCache
from edgeorch.agent.client import ControlPlaneError, Refused
from edgeorch.agent.drivers import (
    Driver,
    DriverError,
    HttpHandler,
    RestartPolicy,
    TaskHandle,
    TaskNotFound,
    TaskSpec,
    TaskState,
)
from edgeorch.agent.health import CpuMeter, Prober, ProbeTarget
from edgeorch.agent.localstate import LocalState, TaskRecord
from edgeorch.agent.protocol import AssignmentItem, InstanceReport
from edgeorch.domain.enums import InstanceState, Runtime

log = logging.getLogger(__name__)

_STATES = {
    TaskState.STARTING: InstanceState.STARTING,
    TaskState.RUNNING: InstanceState.RUNNING,
    TaskState.EXITED: InstanceState.STOPPED,
    TaskState.FAILED: InstanceState.FAILED,
}
PROCESS_RESTARTS = RestartPolicy(mode="on-failure", max_restarts=3, backoff_seconds=1.0)


@dataclass(frozen=True)
class Target:
    """Where the ingress sends a workload's requests: a driver serving in-process, or a port."""

    driver: Driver
    task_id: str
    port: int | None


@dataclass
class _Task:
    item: AssignmentItem
    driver: Driver
    spec_hash: str
    port: int | None
    started_at: datetime
    started_monotonic: float = dataclasses.field(default_factory=time.monotonic)


def spec_hash(item: AssignmentItem) -> str:
    """Identifies what a task runs; a change means stop and start again. Only the template
    (runtime, artifact, resources, health check: ``controllers/rollout.py``) counts, so scaling
    or re-placing a workload never restarts its running replicas."""
    body = {"spec": item.workload_spec.template(), "generation": item.generation}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def free_port() -> int:
    """A port the kernel says is free now, for a process workload that does not name one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Supervisor:
    """The desired set, the running tasks and the per-instance failures."""

    def __init__(
        self,
        drivers: dict[str, Driver],
        state: LocalState,
        artifacts: ArtifactCache,
        endpoint: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._drivers = drivers
        self._state = state
        self._artifacts = artifacts
        self._endpoint = endpoint
        self._clock = clock
        self._lock = threading.RLock()
        self._desired: dict[str, AssignmentItem] = {}
        self._tasks: dict[str, _Task] = {}
        self._failed: dict[str, tuple[str, str]] = {}  # instance id -> (spec hash, reason)
        self._pending: dict[str, str] = {}  # instance id -> why it has not started yet
        self._next: dict[str, int] = {}
        # Instances the ingress must not route to: a migration target waiting for its state,
        # or a source handing it over (agent/migrate.py).
        self._held: dict[str, str] = {}  # instance id -> why
        self._stopping: set[str] = set()
        # Health checks and CPU use (agent/health.py); the runner sets the prober.
        self.prober: Prober | None = None
        self.cpu = CpuMeter()

    # -- desired state -------------------------------------------------------------------------

    def converge(self, items: list[AssignmentItem]) -> None:
        """Stop what is no longer wanted, start what is missing."""
        with self._lock:
            self._desired = {i.instance_id: i for i in items if i.desired_state == "running"}
            # Assigned but desired stopped: reported stopped once stopped here, so the server
            # can delete them (and a cold migration knows its source is down).
            self._stopping = {i.instance_id for i in items if i.desired_state == "stopped"}
            for instance_id, task in list(self._tasks.items()):
                item = self._desired.get(instance_id)
                if item is None or spec_hash(item) != task.spec_hash:
                    self._stop(instance_id)
            for instance_id in set(self._failed) - set(self._desired):
                del self._failed[instance_id]
            for item in self._desired.values():
                if item.instance_id not in self._tasks:
                    self._start(item)

    def recover(self, items: list[AssignmentItem]) -> None:
        """After an agent restart: re-attach to surviving tasks, stop orphans, start the rest."""
        with self._lock:
            wanted = {i.instance_id: i for i in items if i.desired_state == "running"}
            for record in self._state.tasks():
                item = wanted.get(record.instance_id)
                driver = self._drivers.get(record.driver)
                handle = TaskHandle.from_dict(record.handle)
                alive = driver is not None and self._try_recover(driver, handle)
                if alive and item is not None and spec_hash(item) == record.spec_hash:
                    assert driver is not None
                    started = datetime.fromisoformat(record.started_at)
                    self._tasks[item.instance_id] = _Task(
                        item, driver, record.spec_hash, record.port, started
                    )
                    log.info("re-attached to %s (%s)", item.instance_name, record.driver)
                    continue
                if alive and driver is not None:
                    driver.stop(record.instance_id)
                self._state.delete_task(record.instance_id)
        self.converge(items)

    def _try_recover(self, driver: Driver, handle: TaskHandle) -> bool:
        try:
            return driver.recover(handle)
        except DriverError as exc:
            log.warning("could not recover task %s: %s", handle.task_id, exc.reason)
            return False

    # -- start and stop ------------------------------------------------------------------------

    def _start(self, item: AssignmentItem) -> None:
        digest = spec_hash(item)
        failed = self._failed.get(item.instance_id)
        if failed is not None and failed[0] == digest:
            return
        self._failed.pop(item.instance_id, None)
        runtime = item.workload_spec.runtime.value
        driver = self._drivers.get(runtime)
        if driver is None:
            available = ", ".join(sorted(self._drivers)) or "none"
            reason = f"runtime {runtime!r} is not available on this node (available: {available})"
            self._failed[item.instance_id] = (digest, reason)
            return
        try:
            task, port = self._task_spec(item)
            handle = driver.start(task)
        except Refused as exc:
            self._fail(item, digest, f"the control plane refused the artifact: {exc.detail}")
            return
        except ControlPlaneError as exc:
            self._pending[item.instance_id] = f"waiting for its artifact: {exc}"
            return
        except DriverError as exc:
            self._fail(item, digest, exc.reason)
            return
        self._pending.pop(item.instance_id, None)
        if item.migration is not None and item.migration.role == "target":
            self._held[item.instance_id] = f"waiting for its state (migration {item.migration.id})"
        started = self._clock()
        self._tasks[item.instance_id] = _Task(item, driver, digest, port, started)
        record = TaskRecord(
            item.instance_id, driver.name, handle.to_dict(), digest, port, started.isoformat()
        )
        self._state.save_task(record)
        log.info("started %s (%s)", item.instance_name, runtime)

    def _fail(self, item: AssignmentItem, digest: str, reason: str) -> None:
        self._pending.pop(item.instance_id, None)
        self._failed[item.instance_id] = (digest, reason)
        log.warning("instance %s failed: %s", item.instance_name, reason)

    def _task_spec(self, item: AssignmentItem) -> tuple[TaskSpec, int | None]:
        spec = item.workload_spec
        if spec.runtime is Runtime.WASM:
            assert spec.artifact.digest is not None  # WorkloadSpec guarantees it for wasm
            path = self._artifacts.path(spec.artifact.digest)
            return TaskSpec.from_workload(item.instance_id, spec, wasm_path=str(path)), None
        task = TaskSpec.from_workload(item.instance_id, spec, restart=PROCESS_RESTARTS)
        port = spec.artifact.port or free_port()
        return dataclasses.replace(task, port=port), port

    def _stop(self, instance_id: str) -> None:
        self._held.pop(instance_id, None)
        task = self._tasks.pop(instance_id)
        task.driver.stop(instance_id)
        self._state.delete_task(instance_id)
        log.info("stopped %s", task.item.instance_name)

    def stop_all(self) -> None:
        """Stop every task (the agent is shutting down and was asked to)."""
        with self._lock:
            for instance_id in list(self._tasks):
                self._stop(instance_id)

    # -- observation ---------------------------------------------------------------------------

    def needs_retry(self) -> bool:
        """True while some instance waits for an artifact the control plane could not give."""
        with self._lock:
            return bool(self._pending)

    def desired(self) -> list[AssignmentItem]:
        """The desired set the supervisor works towards."""
        with self._lock:
            return list(self._desired.values())

    def reports(self) -> list[InstanceReport]:
        """Each desired instance's actual state, endpoint and reason."""
        with self._lock:
            stopped = [
                InstanceReport(id=iid, state=InstanceState.STOPPED, message="stopped by the agent")
                for iid in sorted(self._stopping)
                if iid not in self._tasks
            ]
            return [self._report(item) for item in self._desired.values()] + stopped

    def _report(self, item: AssignmentItem) -> InstanceReport:
        instance_id = item.instance_id
        if instance_id in self._failed:
            return InstanceReport(
                id=instance_id, state=InstanceState.FAILED, message=self._failed[instance_id][1]
            )
        task = self._tasks.get(instance_id)
        if task is None:
            why = self._pending.get(instance_id, "not started yet")
            return InstanceReport(id=instance_id, state=InstanceState.PENDING, message=why)
        held = self._held.get(instance_id)
        if held is not None and item.migration is not None:  # a target: not serving yet
            return InstanceReport(id=instance_id, state=InstanceState.STARTING, message=held)
        try:
            status = task.driver.status(instance_id)
        except TaskNotFound as exc:
            return InstanceReport(id=instance_id, state=InstanceState.LOST, message=exc.reason)
        state = _STATES[status.state]
        running = state is InstanceState.RUNNING
        healthy, health_message = None, ""
        check = item.workload_spec.health_check
        if running and check is not None and self.prober is not None:
            verdict = self.prober.result(instance_id, task.spec_hash)
            healthy, health_message = verdict.healthy, verdict.message
        cpu = None
        if running and item.workload_spec.runtime is Runtime.WASM:
            cpu = self.cpu.guest_cores(instance_id)
        elif running:
            cpu = self.cpu.process_cores(instance_id, status.pid)
        # A running task's driver reason counts requests; report a stable sentence instead so
        # that a heartbeat is not a status write every time.
        message = f"running ({task.driver.name}, limits: {status.limits})" if running else ""
        return InstanceReport(
            id=instance_id,
            state=state,
            endpoint=self._endpoint(item.workload_name) if running else None,
            message=message or status.reason,
            restarts=status.restarts,
            started_at=task.started_at,
            healthy=healthy,
            health_message=health_message,
            cpu_cores=cpu,
        )

    def probe_targets(self) -> list[ProbeTarget]:
        """The running tasks that have a health check, for the prober."""
        with self._lock:
            self.cpu.forget(self._tasks)
            return [
                ProbeTarget(
                    instance_id,
                    task.spec_hash,
                    check,
                    task.port,
                    task.driver if isinstance(task.driver, HttpHandler) else None,
                    task.started_monotonic,
                )
                for instance_id, task in self._tasks.items()
                if (check := task.item.workload_spec.health_check) is not None
            ]

    def route(self, workload_name: str) -> Target | None:
        """A running task of ``workload_name`` for the ingress, round-robin across replicas."""
        with self._lock:
            candidates = [
                (iid, t)
                for iid, t in sorted(self._tasks.items())
                if t.item.workload_name == workload_name and iid not in self._held
            ]
            if not candidates:
                return None
            turn = self._next.get(workload_name, 0)
            self._next[workload_name] = turn + 1
            instance_id, task = candidates[turn % len(candidates)]
            return Target(task.driver, instance_id, task.port)

    # -- migrations (agent/migrate.py) ---------------------------------------------------------

    def hold(self, instance_id: str, why: str) -> None:
        """Stop routing requests to ``instance_id`` (it is handing its state over)."""
        with self._lock:
            self._held[instance_id] = why

    def release(self, instance_id: str) -> None:
        """Route requests to ``instance_id`` again (it has its state, or a hand-off failed)."""
        with self._lock:
            self._held.pop(instance_id, None)

    def is_held(self, instance_id: str) -> bool:
        """Whether ``instance_id`` runs but is not routed to."""
        with self._lock:
            return instance_id in self._held and instance_id in self._tasks

    def task_of(self, instance_id: str) -> tuple[Driver, AssignmentItem] | None:
        """The driver running ``instance_id`` and its assignment, if it runs here."""
        with self._lock:
            task = self._tasks.get(instance_id)
            return None if task is None else (task.driver, task.item)

    def failure(self, instance_id: str) -> str | None:
        """Why ``instance_id`` could not start, if it could not."""
        with self._lock:
            failed = self._failed.get(instance_id)
            return None if failed is None else failed[1]
