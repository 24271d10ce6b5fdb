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

from pathlib import Path
from typing import Annotated

import typer

from edgeorch import __version__
from edgeorch.cli import (
    commands_agent,
    commands_alerts,
    commands_migrate,
    commands_objects,
    commands_placement,
    commands_server,
    commands_sim,
    commands_tokens,
)
from edgeorch.cli.state import CliState

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
    ctx.obj = CliState(server=server, token=token, context=context, config=config)


commands_server.register(app)
commands_objects.register(app)
commands_tokens.register(app)
commands_placement.register(app)
commands_agent.register(app)
commands_sim.register(app)
commands_alerts.register(app)
commands_migrate.register(app)
