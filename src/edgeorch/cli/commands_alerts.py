"""``edgeorch alerts ls``: the alerts the rule engine raised, newest first."""

from typing import Annotated, Any

import typer

from edgeorch.cli.output import OutputFormat, age, emit_list
from edgeorch.cli.state import api_client

alerts_app = typer.Typer(help="Alerts: what fires and what fired.", no_args_is_help=True)

_SEVERITY = {"critical": "[red]critical[/]", "warning": "[yellow]warning[/]"}


def _value(alert: dict[str, Any]) -> str:
    unit = str(alert["unit"])
    if unit == "ratio":
        return f"{alert['value']:.1%} > {alert['threshold']:.0%}"
    if unit == "ms":
        return f"{alert['value']:.1f} ms > {alert['threshold']:g} ms"
    return unit


@alerts_app.command("ls")
def alerts_ls(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="warning or critical")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """List alerts, newest first."""
    with api_client(ctx) as client:
        data = client.list_all("/alerts", limit=limit, state=state, severity=severity)
    emit_list(
        data,
        output,
        [
            ("STATE", lambda a: a["state"]),
            ("SEVERITY", lambda a: _SEVERITY.get(a["severity"], a["severity"])),
            ("RULE", lambda a: a["rule"]),
            ("SUBJECT", lambda a: f"{a['subject']['kind'].lower()}/{a['subject']['name']}"),
            ("VALUE", _value),
            ("STARTED", lambda a: age(a["started_at"])),
            ("RESOLVED", lambda a: age(a["resolved_at"]) if a["resolved_at"] else "-"),
        ],
        empty="no alerts",
    )


def register(app: typer.Typer) -> None:
    """Add the alert commands to ``app``."""
    app.add_typer(alerts_app, name="alerts")
