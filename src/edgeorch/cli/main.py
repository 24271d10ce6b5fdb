"""The ``edgeorch`` command line.

edgeorch up | server                      run the control plane
edgeorch node ls|show|rm                  edge nodes
edgeorch workload ls|show|scale|rm        workloads
edgeorch apply -f FILE                    create or update objects from manifests
edgeorch events                           what happened and why
edgeorch token create|list|revoke         credentials
edgeorch simulate                         a simulated fleet against a control plane
edgeorch alerts ls                        alerts, firing and resolved
edgeorch migrate INSTANCE|ls|show         move an instance to another node; migrations
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from edgeorch import __version__
from edgeorch.cli import commands_agent


def _agent_only() -> bool:
    """Whether this process is ``edgeorch agent ...`` (the console script or ``python -m
    edgeorch``): then only the agent command is registered, so an edge box does not load the
    control plane's and the client verbs' modules (131 MB → 56 MB idle RSS, docs/benchmarks.md)."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = Path(sys.argv[0]).stem if sys.argv else ""  # edgeorch, edgeorch.exe
    by_name = program == "edgeorch" or getattr(main_spec, "name", "") == "edgeorch.__main__"
    return by_name and sys.argv[1:2] == ["agent"]


_AGENT_ONLY = _agent_only()

app = typer.Typer(
    name="edgeorch",
    help="Place, run, heal and move workloads across a fleet of edge nodes.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgeorch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    server: Annotated[
        str | None, typer.Option("--server", "-s", help="API URL (env EDGEORCH_SERVER)")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="bearer token (env EDGEORCH_TOKEN)")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="client config context to use")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="client config file (env EDGEORCH_CONFIG)")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")
    ] = False,
) -> None:
    """edgeorch: edge computing orchestration."""
    if _AGENT_ONLY:
        return  # the agent takes no client options; it has its own --server
    from edgeorch.cli.state import CliState  # the client verbs' state (httpx, rich)

    ctx.obj = CliState(server=server, token=token, context=context, config=config)


if _AGENT_ONLY:
    commands_agent.register(app)
else:
    from edgeorch.cli import (
        commands_alerts,
        commands_migrate,
        commands_objects,
        commands_placement,
        commands_server,
        commands_sim,
        commands_tokens,
    )

    commands_server.register(app)
    commands_objects.register(app)
    commands_tokens.register(app)
    commands_placement.register(app)
    commands_agent.register(app)
    commands_sim.register(app)
    commands_alerts.register(app)
    commands_migrate.register(app)
