"""Runtime name → driver factory, so the agent builds the drivers a node's config names.

A factory takes the agent's data directory (each driver keeps its files in
``<data_dir>/<runtime>/``) and returns a :class:`~edgeorch.agent.drivers.base.Driver`. Heavy
imports (wasmtime) happen inside the factory, so an agent without wasm never loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgeorch.agent.drivers.base import Driver, DriverError

DriverFactory = Callable[[Path], Driver]


def _process(data_dir: Path) -> Driver:
    from edgeorch.agent.drivers.process import ProcessDriver

    return ProcessDriver(data_dir / "process")


def _wasm(data_dir: Path) -> Driver:
    from edgeorch.agent.drivers.wasm import WasmDriver

    return WasmDriver(data_dir / "wasm")


DRIVERS: dict[str, DriverFactory] = {"process": _process, "wasm": _wasm}


def register_driver(name: str, factory: DriverFactory) -> None:
    """Add or replace a runtime's factory (the simulator registers its fake driver here)."""
    DRIVERS[name] = factory


def create_driver(name: str, data_dir: Path) -> Driver:
    """The driver for runtime ``name``; DriverError naming the known runtimes otherwise."""
    factory = DRIVERS.get(name)
    if factory is None:
        known = ", ".join(sorted(DRIVERS))
        raise DriverError(f"no driver for runtime {name!r} on this agent (known: {known})")
    return factory(Path(data_dir))
