"""Running the control plane in this process: ``edgeorch server`` and ``edgeorch up``."""

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from edgeorch.agent.watch import AssignmentHub
from edgeorch.api import create_app
from edgeorch.api.bootstrap import (
    BootstrapResult,
    client_url,
    prepare_store,
    save_client_context,
)
from edgeorch.config import (
    HTTP_IDLE_SECONDS,
    ServerSettings,
    parse_listen,
    raise_open_file_limit,
    tune_garbage_collector,
)
from edgeorch.controllers import ControllerSettings, controllers_enabled
from edgeorch.store import Database, default_sqlite_url


@dataclass(frozen=True)
class Prepared:
    """A migrated store, the app over it, and what the first start minted."""

    settings: ServerSettings
    database: Database
    bootstrap: BootstrapResult
    url: str
    host: str
    port: int


def database_url(settings: ServerSettings) -> str:
    """The configured URL, or the SQLite file in the data directory."""
    return settings.database_url or default_sqlite_url(settings.data_dir)


def prepare(settings: ServerSettings) -> Prepared:
    """Validate the listen address, migrate the store and bootstrap the first admin token."""
    host, port = parse_listen(settings.listen)
    database = Database(database_url(settings))
    bootstrap = prepare_store(database, settings)
    url = client_url(host, port)
    if bootstrap.admin_secret is not None:
        save_client_context(url, bootstrap.admin_secret)
    return Prepared(settings, database, bootstrap, url, host, port)


def read_admin_token(settings: ServerSettings) -> str | None:
    """The first admin token from the data directory, if this user can read it."""
    path: Path = settings.admin_token_path
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def share_the_gil() -> None:
    """Hand the GIL between threads every millisecond instead of every 5 ms.

    The server's event loop answers many short requests while the controller threads run
    CPU-bound passes. Each time the loop blocks on I/O it gives up the GIL, and with the
    default interval it may wait 5 ms to get it back from a busy controller thread, once per
    socket operation (the "convoy effect"). With 1 ms the list p99 of ``bench/api_scale.py``
    fell from 56-70 ms to 33-43 ms on this 2-core machine (2026-11-22, same code and load)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def run(
    prepared: Prepared,
    *,
    access_log: bool = False,
    on_started: Callable[[], None] | None = None,
    controllers: ControllerSettings | None = None,
) -> None:
    """Serve the API until interrupted (Ctrl-C or SIGTERM stop it cleanly); ``on_started`` runs
    once the socket is listening. Controllers run unless ``EDGEORCH_CONTROLLERS=0``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    share_the_gil()
    raise_open_file_limit()  # a connection or two per agent
    if controllers is None and controllers_enabled():
        controllers = ControllerSettings.from_env()
    app = create_app(
        prepared.database, prepared.settings, controllers=controllers, freeze_garbage=True
    )
    tune_garbage_collector()
    config = uvicorn.Config(
        app,
        host=prepared.host,
        port=prepared.port,
        log_level="info",
        access_log=access_log,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=int(HTTP_IDLE_SECONDS),
    )
    server = ApiServer(config)
    if on_started is not None:
        threading.Thread(target=_when_started, args=(server, on_started), daemon=True).start()
    try:
        server.run()
    finally:
        prepared.database.dispose()


class ApiServer(uvicorn.Server):
    """uvicorn's server that, when it stops, first answers the agents' parked assignment
    watches (``AssignmentHub.release``). A watch is parked for up to a minute; left alone,
    thousands of them held the graceful shutdown for its whole timeout and were then
    cancelled, each logged with a traceback."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        hub = getattr(getattr(app, "state", None), "agent_hub", None)
        if isinstance(hub, AssignmentHub):
            parked = hub.release()
            if parked:
                logging.getLogger("edgeorch.api").info(
                    "stopping: answered %d parked assignment watches", parked
                )
        await super().shutdown(sockets)


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        callback()
