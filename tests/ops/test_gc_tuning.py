"""The server's garbage-collector settings (``config.tune_garbage_collector``,
``config.freeze_survivors``)."""

import asyncio
import gc
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgeorch.config import (
    FULL_INTERVAL,
    GC_ENV,
    GC_FULL_ENV,
    GC_THRESHOLDS,
    freeze_survivors,
    gc_full_interval,
    gc_thresholds,
    tune_garbage_collector,
)


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_defaults_and_override() -> None:
    assert gc_thresholds({}) == GC_THRESHOLDS
    assert gc_thresholds({GC_ENV: "700,10,10"}) == (700, 10, 10)


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "700,0,10", "1,2,3,4"])
def test_a_malformed_override_names_the_variable_and_the_accepted_form(text: str) -> None:
    with pytest.raises(ValueError, match=rf"{GC_ENV}=.*three positive integers"):
        gc_thresholds({GC_ENV: text})


def test_tuning_freezes_what_is_alive_and_sets_the_thresholds(restored_gc: None) -> None:
    alive = [{"kept": i} for i in range(1000)]
    tune_garbage_collector((1234, 5, 6))
    assert gc.get_threshold() == (1234, 5, 6)
    assert gc.get_freeze_count() >= len(alive)


def test_the_server_command_refuses_a_malformed_override() -> None:
    from typer.testing import CliRunner

    from edgeorch.cli.main import app

    result = CliRunner().invoke(app, ["server"], env={GC_ENV: "lots"})
    assert result.exit_code == 2
    assert GC_ENV in result.output


def test_up_refuses_a_malformed_override_before_starting() -> None:
    from typer.testing import CliRunner

    from edgeorch.cli.main import app

    result = CliRunner().invoke(app, ["up"], env={GC_ENV: "0,0,0"})
    assert result.exit_code == 2
    assert GC_ENV in result.output


class _Node:
    """A tracked object that can hold a reference cycle."""

    def __init__(self) -> None:
        self.me: _Node | None = None


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _frozen(obj: object) -> bool:
    """Frozen objects are in no generation the collector walks (gc.get_objects lists those)."""
    return not any(o is obj for o in gc.get_objects())


def test_survivors_are_frozen_and_young_cycles_still_collected() -> None:
    async def main() -> None:
        undo = freeze_survivors(asyncio.get_running_loop(), 0.01, full_interval=3600)
        try:
            assert not gc.isenabled()  # collections run on this loop only
            kept = _Node()
            assert await _until(lambda: _frozen(kept))
            # A cycle dropped before any collection saw it alive is young garbage: collected.
            young = _Node()
            young.me = young
            gone = weakref.ref(young)
            del young
            assert await _until(lambda: gone() is None)
        finally:
            undo()
        assert gc.isenabled() and gc.get_freeze_count() == 0

    asyncio.run(main())


def test_a_cycle_that_dies_frozen_waits_for_the_full_collection() -> None:
    async def main() -> None:
        undo = freeze_survivors(asyncio.get_running_loop(), 0.01, full_interval=1.5)
        try:
            holder = [_Node()]
            holder[0].me = holder[0]
            gone = weakref.ref(holder[0])
            assert await _until(lambda: _frozen(holder[0]))  # survived a collection: frozen
            holder.clear()  # garbage now, but frozen: the young collections do not find it
            await asyncio.sleep(0.3)
            assert gone() is not None
            # The whole-heap collection, 1.5 s after the start, finds it.
            assert await _until(lambda: gone() is None)
        finally:
            undo()

    asyncio.run(main())


def test_full_interval_default_and_override() -> None:
    assert gc_full_interval({}) == FULL_INTERVAL
    assert gc_full_interval({GC_FULL_ENV: "600"}) == 600.0


@pytest.mark.parametrize("text", ["soon", "0", "-5", "1e9"])
def test_a_malformed_full_interval_names_the_variable(text: str) -> None:
    with pytest.raises(ValueError, match=GC_FULL_ENV):
        gc_full_interval({GC_FULL_ENV: text})


def test_the_server_command_refuses_a_malformed_full_interval() -> None:
    from typer.testing import CliRunner

    from edgeorch.cli.main import app

    result = CliRunner().invoke(app, ["server"], env={GC_FULL_ENV: "hourly"})
    assert result.exit_code == 2
    assert GC_FULL_ENV in result.output


def test_a_server_app_runs_the_collector_on_its_loop_for_its_lifetime(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from edgeorch.api import create_app
    from edgeorch.config import ServerSettings
    from edgeorch.store import Database, default_sqlite_url

    database = Database(default_sqlite_url(tmp_path))
    database.migrate()
    try:
        app = create_app(database, ServerSettings(data_dir=tmp_path), freeze_garbage=True)
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() == 0
        with TestClient(create_app(database, ServerSettings(data_dir=tmp_path))):
            assert gc.isenabled()  # API tests' apps leave the test process's collector alone
    finally:
        database.dispose()
