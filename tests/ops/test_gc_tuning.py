"""The server's garbage-collector settings (``config.tune_garbage_collector``)."""

import gc
from collections.abc import Iterator

import pytest

from edgeorch.config import GC_ENV, GC_THRESHOLDS, gc_thresholds, tune_garbage_collector


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
