"""What the agent measures about its machine: architecture, capacity, usable drivers, load.

Capabilities are never declared by hand: a runtime capability (``wasm_runtime``,
``process_runtime``) is reported only when that driver's own fingerprint says it works here.
"""

import logging
import platform
from pathlib import Path

import psutil

from edgeorch.agent.drivers import DRIVERS, Driver, DriverError, create_driver
from edgeorch.agent.protocol import Measured
from edgeorch.domain.enums import Arch
from edgeorch.domain.resources import Resources
from edgeorch.schemas.node import Utilization

log = logging.getLogger(__name__)

_ARCH = {"x86_64": Arch.X86_64, "amd64": Arch.X86_64, "aarch64": Arch.ARM64, "arm64": Arch.ARM64}


def machine_arch(machine: str | None = None) -> Arch:
    """This machine's architecture; ValueError naming the unsupported value otherwise."""
    raw = (machine or platform.machine()).lower()
    arch = _ARCH.get(raw)
    if arch is None:
        known = ", ".join(sorted(_ARCH))
        raise ValueError(f"machine architecture {raw!r} is not supported (supported: {known})")
    return arch


def usable_drivers(data_dir: Path) -> dict[str, Driver]:
    """Every registered driver whose fingerprint is healthy on this machine, by runtime name."""
    drivers: dict[str, Driver] = {}
    for name in sorted(DRIVERS):
        try:
            driver = create_driver(name, data_dir)
        except (DriverError, OSError, ImportError) as exc:
            log.warning("driver %s is not usable here: %s", name, exc)
            continue
        fingerprint = driver.fingerprint()
        if fingerprint.healthy:
            drivers[name] = driver
        else:
            log.warning("driver %s is not healthy here: %s", name, dict(fingerprint.details))
    return drivers


def measure(data_dir: Path, drivers: dict[str, Driver]) -> Measured:
    """Arch, capacity (cpus, memory, the data dir's disk) and runtime capabilities."""
    capacity = Resources(
        cpu=float(psutil.cpu_count() or 1),
        memory_mb=psutil.virtual_memory().total // 1_000_000,
        storage_gb=round(psutil.disk_usage(str(data_dir)).total / 1e9, 1),
    )
    capabilities = sorted(f"{name}_runtime" for name in drivers)
    return Measured(arch=machine_arch(), capacity=capacity, capabilities=capabilities)


def utilization(data_dir: Path) -> Utilization:
    """Fractions of cpu, memory and the data dir's disk in use now (cpu since the last call)."""
    return Utilization(
        cpu=min(psutil.cpu_percent(interval=None) / 100, 1.0),
        memory=psutil.virtual_memory().percent / 100,
        storage=psutil.disk_usage(str(data_dir)).percent / 100,
    )


def driver_versions(drivers: dict[str, Driver]) -> dict[str, str]:
    """``{"driver.<name>": version}`` for the node's agent facts."""
    return {f"driver.{name}": d.fingerprint().version for name, d in drivers.items()}
