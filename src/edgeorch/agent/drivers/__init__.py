"""Workload drivers: one protocol (``base``), one file per runtime, a registry of factories.

``process`` and ``wasm`` are implemented; ``container`` and ``vm`` register here when they are.
Runtime modules are imported lazily through the registry so importing this package stays cheap.
"""

from edgeorch.agent.drivers.base import (
    ArtifactDigestMismatch,
    ArtifactInvalid,
    CommandNotFound,
    Driver,
    DriverError,
    DriverFingerprint,
    HttpHandler,
    ResourceLimitExceeded,
    RestartPolicy,
    SnapshotInvalid,
    SnapshotUnsupported,
    TaskHandle,
    TaskNotFound,
    TaskSpec,
    TaskState,
    TaskStatus,
)
from edgeorch.agent.drivers.registry import DRIVERS, create_driver, register_driver

__all__ = [
    "DRIVERS",
    "ArtifactDigestMismatch",
    "ArtifactInvalid",
    "CommandNotFound",
    "Driver",
    "DriverError",
    "DriverFingerprint",
    "HttpHandler",
    "ResourceLimitExceeded",
    "RestartPolicy",
    "SnapshotInvalid",
    "SnapshotUnsupported",
    "TaskHandle",
    "TaskNotFound",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "create_driver",
    "register_driver",
]
