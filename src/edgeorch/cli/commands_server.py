"""``edgeorch server`` and ``edgeorch up``: run the control plane on this machine."""

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from edgeorch.cli.output import console, emit_error
from edgeorch.cli.serve import Prepared, prepare, read_admin_token, run
from edgeorch.clientconfig import config_path
from edgeorch.config import ServerSettings

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
) -> None:
    """Run the control plane (API and store) in the foreground."""
    prepared = _prepare(data_dir, listen, database_url)
    _announce_token(prepared)
    console.print(f"edgeorch server on {prepared.url} (API docs {prepared.url}/api/docs)")
    run(prepared, access_log=access_log)


def up(
    data_dir: DataDir = None,
    listen: Listen = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run everything on this machine: the control plane on the embedded SQLite store.

    Run it again to resume the same state from the same data directory.
    """
    prepared = _prepare(data_dir, listen, database_url)
    _announce_token(prepared)

    def banner() -> None:
        token = prepared.bootstrap.admin_secret or read_admin_token(prepared.settings)
        lines = [
            f"[bold green]edgeorch is up[/] on {prepared.url}",
            f"  API docs     {prepared.url}/api/docs",
            f"  health       {prepared.url}/readyz",
            f"  data dir     {prepared.settings.data_dir}",
            f"  admin token  {token or '(see ' + str(prepared.bootstrap.token_file) + ')'}",
            "",
            "Try: edgeorch node ls · edgeorch apply -f examples/fleet.yaml · Ctrl-C stops",
        ]
        console.print(Panel("\n".join(lines), border_style="green"))

    run(prepared, on_started=banner)


def register(app: typer.Typer) -> None:
    """Add the server commands to ``app``."""
    app.command()(server)
    app.command()(up)
