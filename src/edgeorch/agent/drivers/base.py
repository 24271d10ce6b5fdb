"""The one protocol every workload driver implements, and the data it speaks.

A driver runs tasks (one replica of a workload on this node) for one runtime. The agent loop only
ever talks to drivers through :class:`Driver`, so ``process``, ``wasm``, ``container``, ``vm`` and
the simulator's fake driver are interchangeable.

Contract, per method:

- ``fingerprint()`` never raises; it says whether the driver works on this machine and why not.
- ``start(task)`` either returns a :class:`TaskHandle` or raises a :class:`DriverError`. When it
  raises, the driver has already recorded the task as ``failed`` with the same reason, so
  ``status(task_id)`` explains the failure too. One task's bad input never affects other tasks.
- ``stop(task_id, timeout)`` is idempotent: stopping an unknown or finished task is a no-op.
- ``status(task_id)`` reports one of the :class:`TaskState` words, an exit code when there is one,
  and a reason a person can act on.
- ``recover(handle)`` re-attaches to a task after an agent restart, from the JSON-serialisable
  ``handle.data`` the agent persisted; it returns ``False`` when the task is gone.
- ``logs(task_id, tail)`` returns the last lines the task wrote.
- ``snapshot``/``restore`` capture and re-create a task's state where the runtime can; others raise
  :class:`SnapshotUnsupported`.

Errors::

    DriverError                  any failure a driver reports; .reason is the status reason
    ├── TaskNotFound             no task with that id on this driver
    ├── ArtifactInvalid          the artifact cannot be run (bad module, bad working dir, ...)
    │   ├── ArtifactDigestMismatch   the bytes do not hash to the declared digest
    │   └── CommandNotFound          the command is not an executable on this node
    ├── ResourceLimitExceeded    the task needs more than its limits allow
    ├── SnapshotUnsupported      this runtime cannot snapshot or restore
    └── SnapshotInvalid          the snapshot is corrupt, of another version or another module
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from edgeorch.schemas.workload import WorkloadSpec

JSON = Any  # a value json.dumps accepts; kept loose because handle data is driver-specific


class DriverError(Exception):
    """A failure a driver reports. ``reason`` is what ``status()`` shows for the task."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskNotFound(DriverError):
    """No task with that id is known to this driver."""


class ArtifactInvalid(DriverError):
    """The artifact cannot be run as given."""


class ArtifactDigestMismatch(ArtifactInvalid):
    """The artifact's bytes do not hash to the digest the workload declares."""


class CommandNotFound(ArtifactInvalid):
    """The process command is not an executable file on this node."""


class ResourceLimitExceeded(DriverError):
    """The task needs more memory or CPU than its limits allow."""


class SnapshotUnsupported(DriverError):
    """The runtime cannot snapshot or restore a task."""


class SnapshotInvalid(DriverError):
    """The snapshot bytes are corrupt, of an unknown version, or of a different module."""


_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_task_id(task_id: str) -> None:
    """Task ids become directory and cgroup names, so only safe path components are accepted."""
    if not _TASK_ID.match(task_id):
        raise DriverError(
            f"task id {task_id!r} is not valid: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


class TaskState(StrEnum):
    """The lifecycle words every driver reports."""

    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"
    FAILED = "failed"


@dataclass(frozen=True)
class DriverFingerprint:
    """Whether a driver works on this node: ``healthy``, its ``version`` and free-form details
    (for example which limit mechanism is in use)."""

    name: str
    healthy: bool
    version: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestartPolicy:
    """When a driver restarts an exited task on its own.

    ``never``: a task that exits stays exited. ``on-failure``: a non-zero exit (or a kill) is
    restarted up to ``max_restarts`` times, waiting ``backoff_seconds`` doubled after each restart
    and capped at ``max_backoff_seconds``.
    """

    mode: Literal["never", "on-failure"] = "never"
    max_restarts: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    def delay(self, restarts_done: int) -> float:
        """Seconds to wait before restart number ``restarts_done + 1``."""
        return float(min(self.backoff_seconds * (2**restarts_done), self.max_backoff_seconds))


@dataclass(frozen=True)
class TaskSpec:
    """Everything a driver needs to run one task.

    ``process`` uses ``command``/``env``/``working_dir``; ``wasm`` uses ``wasm_module`` (bytes) or
    ``wasm_path`` plus ``digest`` (``sha256:<hex>``), and ``env``. ``cpu`` is in vCPU and
    ``memory_mb`` in MB; 0 means unlimited. ``request_timeout`` and ``fuel_per_request`` bound each
    wasm request (None: the driver's defaults).
    """

    task_id: str
    runtime: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    wasm_module: bytes | None = None
    wasm_path: str | None = None
    digest: str | None = None
    cpu: float = 0.0
    memory_mb: int = 0
    port: int | None = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    request_timeout: float | None = None
    fuel_per_request: int | None = None

    @classmethod
    def from_workload(
        cls,
        task_id: str,
        spec: WorkloadSpec,
        *,
        wasm_module: bytes | None = None,
        wasm_path: str | None = None,
        restart: RestartPolicy | None = None,
    ) -> TaskSpec:
        """Build a task from a workload spec; wasm bytes come from the agent's artifact fetch."""
        artifact = spec.artifact
        return cls(
            task_id=task_id,
            runtime=spec.runtime.value,
            command=tuple(artifact.command or ()),
            env=dict(artifact.env),
            working_dir=artifact.working_dir,
            wasm_module=wasm_module,
            wasm_path=wasm_path,
            digest=artifact.digest,
            cpu=spec.resources.cpu,
            memory_mb=spec.resources.memory_mb,
            port=artifact.port,
            restart=restart or RestartPolicy(),
        )


@dataclass(frozen=True)
class TaskHandle:
    """What the agent persists to find a task again after it restarts. ``data`` is JSON-safe."""

    task_id: str
    driver: str
    data: Mapping[str, JSON] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSON]:
        """A JSON-serialisable form."""
        return {"task_id": self.task_id, "driver": self.driver, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, JSON]) -> TaskHandle:
        """The inverse of :meth:`to_dict`."""
        return cls(task_id=str(raw["task_id"]), driver=str(raw["driver"]), data=dict(raw["data"]))


@dataclass(frozen=True)
class TaskStatus:
    """A task's state as the driver sees it now.

    ``reason`` is always a sentence a person can act on ("command 'nope' was not found on PATH",
    "exceeded its memory limit of 64 MB"). ``limits`` names the mechanism enforcing resources
    (``cgroup-v1``, ``rlimit``, ``wasmtime``, ``none``).
    """

    task_id: str
    state: TaskState
    reason: str = ""
    exit_code: int | None = None
    restarts: int = 0
    limits: str = "none"
    pid: int | None = None


@runtime_checkable
class Driver(Protocol):
    """One runtime's way of running tasks. See the module docstring for the contract."""

    @property
    def name(self) -> str:
        """The runtime name this driver serves (``process``, ``wasm``, ...)."""
        ...

    def fingerprint(self) -> DriverFingerprint:
        """Whether this driver works here, its version and details. Never raises."""
        ...

    def start(self, task: TaskSpec) -> TaskHandle:
        """Start a task; raises :class:`DriverError` (and records it failed) when it cannot."""
        ...

    def stop(self, task_id: str, timeout: float = 10.0) -> None:
        """Stop a task, forcefully after ``timeout`` seconds. Idempotent."""
        ...

    def status(self, task_id: str) -> TaskStatus:
        """The task's state now; raises :class:`TaskNotFound` for an unknown id."""
        ...

    def recover(self, handle: TaskHandle) -> bool:
        """Re-attach to a task after an agent restart; ``False`` if it is gone."""
        ...

    def logs(self, task_id: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines the task wrote."""
        ...

    def snapshot(self, task_id: str) -> bytes:
        """The task's state as bytes, or :class:`SnapshotUnsupported`."""
        ...

    def restore(self, task: TaskSpec, snapshot: bytes) -> TaskHandle:
        """Start ``task`` from a snapshot, or :class:`SnapshotUnsupported`."""
        ...


@runtime_checkable
class HttpHandler(Protocol):
    """A driver that serves HTTP requests in-process (``wasm``); the ingress calls it directly
    instead of proxying to a port. Never raises for a workload's fault: answers 5xx instead."""

    def handle_http(
        self,
        task_id: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; returns ``(status, headers, body)``."""
        ...
