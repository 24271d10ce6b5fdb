"""Server settings: flags override environment variables, which override defaults.

| setting        | flag             | environment               | default                        |
|----------------|------------------|---------------------------|--------------------------------|
| data directory | ``--data-dir``   | ``EDGEORCH_DATA_DIR``     | ``$XDG_DATA_HOME/edgeorch``    |
| listen address | ``--listen``     | ``EDGEORCH_LISTEN``       | ``127.0.0.1:8080``             |
| database       | ``--database-url`` | ``EDGEORCH_DATABASE_URL`` | SQLite file in the data dir  |
| first token    |                  | ``EDGEORCH_BOOTSTRAP_TOKEN`` | generated on first start    |
"""

import asyncio
import gc
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any manifest, far below a memory problem
ADMIN_TOKEN_FILE = "admin-token"
# How long the server keeps an idle keep-alive connection. uvicorn's default (5 s) is shorter
# than an agent's heartbeat interval (5-10 s), so every beat opened a new connection (over TLS,
# with a new handshake), and a beat sent just as the server closed the idle one failed. Agents
# drop theirs sooner (agent/client.py), so the server never closes one under a request.
HTTP_IDLE_SECONDS = 75.0


def default_data_dir() -> Path:
    """``$EDGEORCH_DATA_DIR``, else ``$XDG_DATA_HOME/edgeorch``, else ``~/.local/share/…``."""
    if env := os.environ.get("EDGEORCH_DATA_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "edgeorch"


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` allowed); ValueError names the bad value and the form."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ValueError(f"listen address {value!r} is not HOST:PORT (for example 127.0.0.1:8080)")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} in {value!r} is out of range 0-65535")
    return host.strip("[]"), port


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``edgeorch server`` needs to start."""

    data_dir: Path = field(default_factory=default_data_dir)
    listen: str = DEFAULT_LISTEN
    database_url: str | None = None
    bootstrap_token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(
        cls,
        *,
        data_dir: Path | None = None,
        listen: str | None = None,
        database_url: str | None = None,
    ) -> "ServerSettings":
        """Settings from explicit values, falling back to the environment, then defaults."""
        return cls(
            data_dir=(data_dir or default_data_dir()).expanduser().resolve(),
            listen=listen or os.environ.get("EDGEORCH_LISTEN") or DEFAULT_LISTEN,
            database_url=database_url or os.environ.get("EDGEORCH_DATABASE_URL") or None,
            bootstrap_token=os.environ.get("EDGEORCH_BOOTSTRAP_TOKEN") or None,
        )

    @property
    def admin_token_path(self) -> Path:
        """Where the first admin token is written, readable by the owner only."""
        return self.data_dir / ADMIN_TOKEN_FILE


def env_number(
    environ: Mapping[str, str],
    key: str,
    default: float,
    *,
    unit: str = "",
    upper: float | None = None,
) -> float:
    """A positive number from ``environ[key]`` (``default`` when unset or empty); a bad value is
    a ``ValueError`` naming the variable, the value and what is accepted."""
    text = environ.get(key, "")
    if not text:
        return default
    what = f"a number of {unit} (for example {default:g})" if unit else "a number"
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{key}={text!r} is not {what}") from exc
    if value <= 0 or (upper is not None and value > upper):
        limit = f" and at most {upper:g}" if upper is not None else ""
        raise ValueError(f"{key}={text!r} must be positive{limit}")
    return value


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit, as servers do (Go's
    runtime does it at start): each agent holds a connection or two, and a soft limit of 1,024
    is common. Returns the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


# Python's defaults are (700, 10, 10). See tune_garbage_collector.
GC_THRESHOLDS = (2_000, 10, 1_000)
GC_ENV = "EDGEORCH_GC_THRESHOLDS"


def gc_thresholds(environ: Mapping[str, str] = os.environ) -> tuple[int, int, int]:
    """The collector thresholds to use: ``EDGEORCH_GC_THRESHOLDS`` ("700,10,10" restores
    Python's) or ``GC_THRESHOLDS``; a malformed value is a ``ValueError`` that says so."""
    text = environ.get(GC_ENV, "")
    if not text:
        return GC_THRESHOLDS
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise ValueError(
            f"{GC_ENV}={text!r}: expected three positive integers, e.g. "
            f"{','.join(map(str, GC_THRESHOLDS))} (Python's defaults are 700,10,10)"
        )
    return (values[0], values[1], values[2])


def tune_garbage_collector(thresholds: tuple[int, int, int] | None = None) -> None:
    """Collect cyclic garbage less often than Python does by default (``thresholds``, else
    :func:`gc_thresholds`), and never walk the objects alive now, which live as long as the
    process (modules, the app's routes, the models' validators).

    A server for a large fleet holds millions of long-lived objects (nodes, views, tokens, a
    long-poll per agent) and keeps making more. With Python's defaults, while 10,000 agents
    joined, the server and its controller process together collected their oldest generation
    (which walks every tracked object) ~17 times a minute at ~1 s each, everything else
    stopped meanwhile (``edgeorch_python_gc_pause_seconds``, docs/benchmarks.md). The third
    threshold makes that rare (after 1,000 middle-generation collections instead of 10). The
    young generations cost about the same in total whatever their thresholds (each surviving
    object is examined there once or twice); larger ones only make each pause longer: at
    ``50000,20`` a middle-generation pause took ~1.9 s at 10,000 agents. Most of the server's
    garbage has no reference cycles and is freed by reference counting whatever the
    thresholds; they only decide how often the cycle detector runs."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*(thresholds or gc_thresholds()))


YOUNG_INTERVAL = 0.1  # seconds between the young collections freeze_survivors makes
FULL_INTERVAL = 3600.0  # seconds between its whole-heap collections
GC_FULL_ENV = "EDGEORCH_GC_FULL_INTERVAL"


def gc_full_interval(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between whole-heap collections of a server that freezes survivors:
    ``EDGEORCH_GC_FULL_INTERVAL`` (at most a week) or ``FULL_INTERVAL``."""
    return env_number(environ, GC_FULL_ENV, FULL_INTERVAL, unit="seconds", upper=7 * 86400)


def freeze_survivors(
    loop: asyncio.AbstractEventLoop,
    young_interval: float = YOUNG_INTERVAL,
    full_interval: float | None = None,
) -> Callable[[], None]:
    """Collect the young generation every ``young_interval`` seconds on ``loop`` and move what
    survives each collection out of the collector's sight (``gc.freeze``); call on the loop's
    thread, and the returned undo too.

    For the API server (and the simulator), after :func:`tune_garbage_collector`. What
    survives a collection there is alive and stays so for seconds or more (nodes' views,
    credentials, a parked long-poll per agent: ~270 tracked objects an agent at 2,000 agents,
    ``bench/server_heap.py``). Left to the collector, each is examined again by every
    older-generation collection until it dies, which at 10,000 agents meant ~42 ms
    middle-generation pauses every ~0.7 s and a ~3 s whole-heap pause every few minutes with
    every request waiting (docs/benchmarks.md). Frozen, each object is examined once, young,
    and is still freed as usual when its last reference goes.

    The collections run on a timer, on the event loop's thread only (Python's automatic
    collection is turned off): in steady state a server frees about as many objects as it
    makes, so the allocation count that would start a collection hardly moves while the young
    generation grows (Python's thresholds gave 16 young collections in two minutes at 2,000
    agents, up to 67 ms each); and a collection started by another thread runs the finalizers
    of the event loop's garbage (a dropped connection's transport) on that thread, which
    uvloop's and libuv's handles do not allow: the first version, which collected from a
    thread of its own, left 10,000 simulated agents' loop stuck for good.

    What freezing gives up is finding reference cycles among objects that were alive at a
    collection and became garbage later. The server makes few: over a minute at 2,000 agents
    every cycle the collector found was a SQLAlchemy statement being built (~3,000 objects,
    nearly all found young), and a frozen heap kept ~700 objects in two minutes that it would
    have freed (``bench/server_heap.py``, docs/benchmarks.md). Every ``full_interval`` seconds
    (:func:`gc_full_interval`) the whole heap is collected once to return those: a pause of
    about 0.2-0.3 s per 1,000 agents."""
    full = gc_full_interval() if full_interval is None else full_interval
    last_full = time.monotonic()
    handle: asyncio.TimerHandle | None = None

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            gc.freeze()

    def tick() -> None:
        nonlocal handle, last_full
        if time.monotonic() - last_full >= full:
            last_full = time.monotonic()
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(0)
        handle = loop.call_later(young_interval, tick)

    enabled = gc.isenabled()
    gc.disable()
    gc.callbacks.append(callback)
    handle = loop.call_later(young_interval, tick)

    def undo() -> None:
        if handle is not None:
            handle.cancel()
        gc.callbacks.remove(callback)
        gc.unfreeze()
        if enabled:
            gc.enable()

    return undo
