"""``edgeorch plan``: a dry run of ``apply`` that shows where every replica would land and why."""

from typing import Annotated, Any

import typer

from edgeorch.cli.output import OutputFormat, console, emit_data, emit_table, short_id
from edgeorch.cli.state import api_client, read_manifest

EXIT_UNPLACEABLE = 2


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _show(item: dict[str, Any]) -> None:
    placed, requested = len(item["assignments"]), item["requested"]
    colour = "green" if item["placeable"] else "red"
    console.print(
        f"[bold]workload/{item['workload']}[/]: [{colour}]{placed}/{requested} replica(s) "
        f"placed[/] among {item['feasible_nodes']} feasible of {item['total_nodes']} nodes "
        f"({item['decision_ms']:.1f} ms)"
    )
    emit_table(
        item["assignments"],
        [
            ("REPLICA", lambda a: str(a["replica"])),
            ("NODE", lambda a: a["node_name"]),
            ("ID", lambda a: short_id(a["node_id"])),
            ("SCORE", lambda a: f"{a['score']:.3f}"),
            ("LATENCY", lambda a: _latency(a["latency_ms"])),
        ],
        empty="  no replica can be placed",
    )
    removed = [f"{f['name']} -{f['removed']}" for f in item["filters"] if f["removed"]]
    if removed:
        console.print("  filters: " + ", ".join(removed), highlight=False)
    for note in item.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
    if not item["placeable"]:
        for reason in item.get("blocking", []):
            console.print(f"  [red]blocked by[/] {reason}", highlight=False)
        for hint in item.get("hints", []):
            console.print(f"  [yellow]hint[/] {hint['message']}", highlight=False)
    console.print()


def plan(
    ctx: typer.Context,
    file: Annotated[str, typer.Option("--filename", "-f", help="manifest file, or - for stdin")],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """Show where every replica of the manifest's workloads would land, and why; nothing is
    written. Exits 2 when a valid workload cannot be (fully) placed."""
    text, content_type = read_manifest(file)
    with api_client(ctx) as client:
        result = client.request(
            "POST",
            "/placement/plan",
            content=text.encode(),
            headers={"Content-Type": content_type},
        )
    if output is not OutputFormat.TABLE:
        emit_data(result, output)
    else:
        for item in result["items"]:
            _show(item)
        for ignored in result.get("ignored", []):
            console.print(f"[dim]{ignored} is not a workload; plan shows workloads only[/]")
    if not result["placeable"]:
        raise typer.Exit(EXIT_UNPLACEABLE)


def register(app: typer.Typer) -> None:
    """Add ``plan`` to ``app``."""
    app.command()(plan)
