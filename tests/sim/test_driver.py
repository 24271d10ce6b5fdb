"""The simulated driver: the driver protocol, start delays on an injected clock."""

import random

import pytest

from edgeorch.agent.drivers import Driver, TaskNotFound, TaskSpec, TaskState, create_driver
from edgeorch.sim.driver import START_DELAY_SECONDS, SimDriver, register


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("runtime", sorted(START_DELAY_SECONDS))
def test_a_task_starts_then_runs_after_its_modelled_delay(runtime: str) -> None:
    clock = FakeClock()
    driver = SimDriver(clock=clock, rng=random.Random(1))
    driver.start(TaskSpec(task_id="t1", runtime=runtime, cpu=2, memory_mb=512))
    assert driver.status("t1").state is TaskState.STARTING
    low, high = START_DELAY_SECONDS[runtime]
    clock.now += low * 0.99
    assert driver.status("t1").state is TaskState.STARTING
    clock.now += high
    assert driver.status("t1").state is TaskState.RUNNING
    assert driver.usage() == (2, 512)


def test_stop_is_idempotent_and_unknown_tasks_are_named() -> None:
    driver = SimDriver(clock=FakeClock())
    driver.start(TaskSpec(task_id="t1", runtime="wasm"))
    driver.stop("t1")
    driver.stop("t1")
    with pytest.raises(TaskNotFound, match="t1"):
        driver.status("t1")
    assert driver.usage() == (0, 0)


def test_injected_failure_and_snapshot_restore() -> None:
    clock = FakeClock()
    driver = SimDriver(clock=clock)
    task = TaskSpec(task_id="t2", runtime="vm", cpu=1)
    driver.start(task)
    snap = driver.snapshot("t2")
    driver.stop("t2")
    driver.restore(task, snap)
    assert driver.status("t2").state is TaskState.RUNNING  # a restore skips the boot
    driver.fail("t2", "simulated crash")
    assert driver.status("t2").state is TaskState.FAILED
    assert driver.status("t2").reason == "simulated crash"


def test_it_is_a_driver_registered_as_sim() -> None:
    register()
    driver = create_driver("sim", __import__("pathlib").Path("/nonexistent"))
    assert isinstance(driver, Driver)
    assert driver.name == "sim" and driver.fingerprint().healthy
