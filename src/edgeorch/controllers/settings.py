"""Controller settings: node-failure timings and loop intervals, from flags or the environment.

| setting                 | flag                     | environment                       | default |
|-------------------------|--------------------------|-----------------------------------|---------|
| suspect after silence   | ``--node-suspect-after`` | ``EDGEORCH_NODE_SUSPECT_AFTER``   | 15 s    |
| down after silence      | ``--node-down-after``    | ``EDGEORCH_NODE_DOWN_AFTER``      | 30 s    |
| full resync             |                          | ``EDGEORCH_CONTROLLER_RESYNC``    | 300 s   |
| run the controllers     | ``--no-controllers``     | ``EDGEORCH_CONTROLLERS=0``        | on      |
| where they run          |                          | ``EDGEORCH_CONTROLLERS=thread``   | process |

``EDGEORCH_CONTROLLERS`` is ``process`` (the default; also ``1``/``on``), ``thread`` or ``0``
(also ``off``/``false``/``no``). With ``process`` the store-driven controllers run in a child
process of the server (``controllers/process.py``) and the node lifecycle in the server;
``thread`` runs all of them as threads of the server (one process, as the tests do). An
in-memory SQLite database cannot be shared between processes and always uses threads.

Agents heartbeat every 5 s by default, so ``suspect`` is three missed beats and ``down`` six;
``docs/controllers.md`` compares these with Kubernetes and Nomad.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from edgeorch.config import env_number

DEFAULT_SUSPECT_AFTER = 15.0
DEFAULT_DOWN_AFTER = 30.0
DEFAULT_RESYNC = 300.0


def _seconds(environ: Mapping[str, str], key: str, default: float) -> float:
    return env_number(environ, key, default, unit="seconds")


@dataclass(frozen=True)
class ControllerSettings:
    """Timings of the node-lifecycle and workload controllers (seconds)."""

    suspect_after: float = DEFAULT_SUSPECT_AFTER
    down_after: float = DEFAULT_DOWN_AFTER
    resync: float = DEFAULT_RESYNC
    # A region counts as cut off when more than this share of its nodes went silent together...
    partition_share: float = 0.5
    # ...and it has at least this many nodes (one dead node in a two-node region is not a cut).
    partition_min_nodes: int = 3
    node_tick: float = 0.5
    feed_poll: float = 0.5
    event_throttle: float = 300.0
    # Run the store-driven controllers in a child process (EDGEORCH_CONTROLLERS=process).
    own_process: bool = False

    def __post_init__(self) -> None:
        if self.down_after < self.suspect_after:
            raise ValueError(
                f"node down-after ({self.down_after} s) must not be shorter than suspect-after "
                f"({self.suspect_after} s)"
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        suspect_after: float | None = None,
        down_after: float | None = None,
    ) -> "ControllerSettings":
        """Explicit values, else the environment, else the defaults."""
        env = os.environ if environ is None else environ
        suspect = suspect_after or _seconds(
            env, "EDGEORCH_NODE_SUSPECT_AFTER", DEFAULT_SUSPECT_AFTER
        )
        down = down_after or _seconds(
            env, "EDGEORCH_NODE_DOWN_AFTER", max(DEFAULT_DOWN_AFTER, suspect)
        )
        resync = _seconds(env, "EDGEORCH_CONTROLLER_RESYNC", DEFAULT_RESYNC)
        tick = min(0.5, suspect / 4)
        own_process = _mode(env) == "process"
        return cls(
            suspect_after=suspect,
            down_after=down,
            resync=resync,
            node_tick=tick,
            own_process=own_process,
        )


_OFF = ("0", "false", "no", "off")
_PROCESS = ("process", "1", "true", "yes", "on")


def _mode(environ: Mapping[str, str]) -> str:
    """``process``, ``thread`` or ``off``, from ``EDGEORCH_CONTROLLERS``."""
    raw = environ.get("EDGEORCH_CONTROLLERS", "process")
    value = raw.strip().lower()
    if value in _OFF:
        return "off"
    if value in _PROCESS:
        return "process"
    if value == "thread":
        return "thread"
    raise ValueError(
        f"EDGEORCH_CONTROLLERS={raw!r} is not a controller mode; accepted: process (default), "
        "thread, or 0/off to run no controllers"
    )


def controllers_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``EDGEORCH_CONTROLLERS`` is ``0``/``false``/``no``/``off``; a value that is
    no mode at all raises ``ValueError`` naming the accepted ones."""
    return _mode(os.environ if environ is None else environ) != "off"
