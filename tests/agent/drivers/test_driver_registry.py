"""The registry and the pinned public surface of edgeorch.agent.drivers."""

from pathlib import Path

import pytest

import edgeorch.agent.drivers as drivers
from edgeorch.agent.drivers import DRIVERS, Driver, DriverError, HttpHandler, create_driver


@pytest.mark.parametrize("runtime", ["process", "wasm"])
def test_registry_builds_working_drivers(tmp_path: Path, runtime: str) -> None:
    driver = create_driver(runtime, tmp_path)
    assert isinstance(driver, Driver)
    fingerprint = driver.fingerprint()
    assert fingerprint.name == runtime == driver.name and fingerprint.healthy
    assert fingerprint.details["limits"]
    assert isinstance(driver, HttpHandler) == (runtime == "wasm")


def test_unknown_runtime_names_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry is process-wide: a simulation run earlier in this process added "sim".
    monkeypatch.delitem(DRIVERS, "sim", raising=False)
    with pytest.raises(DriverError, match=r"no driver for runtime 'vm'.*process, wasm"):
        create_driver("vm", tmp_path)


def test_bad_task_ids_are_refused(tmp_path: Path) -> None:
    driver = create_driver("process", tmp_path)
    with pytest.raises(DriverError, match=r"task id '\.\./x' is not valid"):
        driver.start(drivers.TaskSpec("../x", "process", command=("true",)))


def test_public_surface_is_pinned() -> None:
    assert sorted(drivers.__all__) == sorted(
        [
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
    )
