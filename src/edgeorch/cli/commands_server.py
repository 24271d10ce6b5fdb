"""``edgeorch server`` and ``edgeorch up``: run the control plane on this machine."""

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from edgeorch.cli.output import console, emit_error
from edgeorch.cli.serve import Prepared, prepare, read_admin_token, run
from edgeorch.clientconfig import config_path
from edgeorch.config import ServerSettings, gc_full_interval, gc_thresholds
from edgeorch.controllers import ControllerSettings, controllers_enabled

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="state directory (env EDGEORCH_DATA_DIR)", show_default=False),
]
Listen = Annotated[
    str | None, typer.Option("--listen", help="HOST:PORT to serve on [default: 127.0.0.1:8080]")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL URL (env EDGEORCH_DATABASE_URL); default: SQLite in the data dir",
    ),
]


def _prepare(data_dir: Path | None, listen: str | None, database_url: str | None) -> Prepared:
    settings = ServerSettings.from_env(data_dir=data_dir, listen=listen, database_url=database_url)
    try:
        with console.status("migrating the store…"):
            return prepare(settings)
    except ValueError as exc:
        emit_error(str(exc))
        raise typer.Exit(2) from exc
    except OSError as exc:
        emit_error(f"cannot prepare the data directory {settings.data_dir}: {exc}")
        raise typer.Exit(1) from exc


def _announce_token(prepared: Prepared) -> None:
    secret = prepared.bootstrap.admin_secret
    if secret is None:
        return
    console.print(
        Panel(
            f"[bold]{secret}[/]\n\nThis admin token is shown once. It is also in "
            f"{prepared.bootstrap.token_file} (readable by you only) and in the client config "
            f"{config_path()}, so 'edgeorch' commands on this machine use it.",
            title="first start: admin token",
            border_style="yellow",
        )
    )


def server(
    data_dir: DataDir = None,
    listen: Listen = None,
    database_url: DatabaseUrl = None,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
    node_suspect_after: Annotated[
        float | None,
        typer.Option(
            help="seconds of silence before a node is suspect "
            "(env EDGEORCH_NODE_SUSPECT_AFTER) [default: 15]"
        ),
    ] = None,
    node_down_after: Annotated[
        float | None,
        typer.Option(
            help="seconds of silence before a node is down "
            "(env EDGEORCH_NODE_DOWN_AFTER) [default: 30]"
        ),
    ] = None,
) -> None:
    """Run the control plane (API, store and controllers) in the foreground."""
    controllers = _controller_settings(node_suspect_after, node_down_after)
    _check_gc_thresholds()
    prepared = _prepare(data_dir, listen, database_url)
    _announce_token(prepared)
    console.print(f"edgeorch server on {prepared.url} (API docs {prepared.url}/api/docs)")
    run(prepared, access_log=access_log, controllers=controllers)


def _controller_settings(suspect: float | None, down: float | None) -> ControllerSettings | None:
    try:
        if not controllers_enabled():
            return None
        return ControllerSettings.from_env(suspect_after=suspect, down_after=down)
    except ValueError as exc:
        emit_error(str(exc))
        raise typer.Exit(2) from exc


def _check_gc_thresholds() -> None:
    """Refuse a malformed ``EDGEORCH_GC_THRESHOLDS`` or ``EDGEORCH_GC_FULL_INTERVAL`` before
    anything starts (the server applies them once its app is built,
    ``config.tune_garbage_collector`` and ``config.freeze_survivors``)."""
    try:
        gc_thresholds()
        gc_full_interval()
    except ValueError as exc:
        emit_error(str(exc))
        raise typer.Exit(2) from exc


def up(
    data_dir: DataDir = None,
    listen: Listen = None,
    database_url: DatabaseUrl = None,
    nodes: Annotated[
        int, typer.Option("--nodes", help="simulated nodes over us-west, us-east, eu-west")
    ] = 12,
    seed: Annotated[int, typer.Option(help="seed of the simulated fleet")] = 0,
) -> None:
    """Run everything on this machine: the control plane on the embedded SQLite store, a
    simulated fleet, one real agent, and the sample applications (docs/simulator.md).

    Run it again with the same data directory to resume the same state.
    """
    from edgeorch.sim.allinone import UpError, UpOptions, run_up  # keeps 'edgeorch --help' fast

    if nodes < 0:
        emit_error(f"--nodes {nodes} is negative; give 0 or more simulated nodes")
        raise typer.Exit(2)
    _check_gc_thresholds()
    prepared = _prepare(data_dir, listen, database_url)
    _announce_token(prepared)
    token = prepared.bootstrap.admin_secret or read_admin_token(prepared.settings)
    if token is None:
        emit_error(
            f"cannot read the admin token in {prepared.bootstrap.token_file}; 'up' needs it to "
            "mint join tokens and deploy the samples"
        )
        raise typer.Exit(1)
    try:
        run_up(prepared, UpOptions(nodes=nodes, seed=seed), console, token)
    except UpError as exc:
        emit_error(str(exc))
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add the server commands to ``app``."""
    app.command()(server)
    app.command()(up)
