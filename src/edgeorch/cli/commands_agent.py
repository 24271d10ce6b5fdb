"""``edgeorch agent``: run the edge agent on this machine (see ``edgeorch.agent.settings``).

An edge box pays for every module this command loads, for as long as the agent runs (the idle
target is under 60 MB RSS, docs/benchmarks.md). So this module imports only typer at the top;
the agent, and the CLI's rich output (for errors only), are imported when the command runs.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer


def _without_httpx_cli() -> None:
    """Keep httpx from importing its command-line client (rich, pygments and click's parts:
    3.3 MB of the idle agent, which never uses it). ``httpx/__init__.py`` imports
    ``httpx._main`` inside ``try/except ImportError``, and a ``None`` entry in ``sys.modules``
    makes that import raise ImportError. Only when httpx is not loaded yet, so a process that
    already has it is not touched."""
    if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
        # typeshed types sys.modules as modules only; None is the documented "not importable".
        sys.modules["httpx._main"] = None  # type: ignore[assignment]


def _error(message: str) -> None:
    from edgeorch.cli.output import emit_error

    emit_error(message)


def agent(
    server: Annotated[str | None, typer.Option(help="control plane URL")] = None,
    join_token: Annotated[
        str | None, typer.Option(help="join token, used once (edgeorch token create --join)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="agent state directory")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these settings")] = None,
    name: Annotated[str | None, typer.Option(help="node name [default: host name]")] = None,
    region: Annotated[str | None, typer.Option(help="region, e.g. eu-central")] = None,
    zone: Annotated[str | None, typer.Option(help="zone within the region")] = None,
    latitude: Annotated[float | None, typer.Option(help="degrees")] = None,
    longitude: Annotated[float | None, typer.Option(help="degrees")] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2, e.g. DE")] = None,
    edge_type: Annotated[
        str | None, typer.Option(help="mec, cdn, iot, onprem, telco or cloud")
    ] = None,
    cost_per_hour: Annotated[float | None, typer.Option(help="USD/hour")] = None,
    label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable")] = None,
    listen: Annotated[
        str | None, typer.Option(help="ingress HOST:PORT [default: 127.0.0.1:0, any port]")
    ] = None,
    heartbeat_interval: Annotated[float | None, typer.Option(help="seconds [default: 5]")] = None,
    watch_timeout: Annotated[float | None, typer.Option(help="long-poll seconds [30]")] = None,
    request_timeout: Annotated[float | None, typer.Option(help="seconds [default: 10]")] = None,
    keep_workloads: Annotated[
        bool, typer.Option(help="leave process workloads running when the agent exits")
    ] = False,
) -> None:
    """Run the edge agent: join, heartbeat, run assigned workloads, serve their ingress."""
    flags = {
        "server": server,
        "join_token": join_token,
        "data_dir": data_dir,
        "name": name,
        "region": region,
        "zone": zone,
        "latitude": latitude,
        "longitude": longitude,
        "country": country,
        "edge_type": edge_type,
        "cost_per_hour": cost_per_hour,
        "labels": label or None,
        "listen": listen,
        "heartbeat_interval": heartbeat_interval,
        "watch_timeout": watch_timeout,
        "request_timeout": request_timeout,
    }
    _without_httpx_cli()
    import asyncio
    import logging

    from edgeorch.agent.runner import AgentError, run_agent
    from edgeorch.agent.settings import SettingsError, load_settings

    try:
        settings = load_settings(flags, config=config)
    except SettingsError as exc:
        _error(str(exc))
        raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per heartbeat is noise
    try:
        asyncio.run(run_agent(settings, keep_workloads=keep_workloads))
    except AgentError as exc:
        _error(str(exc))
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add ``edgeorch agent``."""
    app.command("agent")(agent)


def main() -> None:
    """``python -m edgeorch.agent ...``: this command alone, without the rest of the CLI (the
    control plane's modules: FastAPI, SQLAlchemy, NumPy)."""
    typer.run(agent)
