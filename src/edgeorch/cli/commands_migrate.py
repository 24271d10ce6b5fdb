"""``edgeorch migrate``: move an instance to another node, and follow migrations.

    edgeorch migrate INSTANCE [--to NODE|auto] [--type live|cold|snapshot]
                              [--max-downtime 50ms] [--reason TEXT] [--wait]
    edgeorch migrate ls [--state running]
    edgeorch migrate show ID

``ls`` and ``show`` cannot be instance names (those are ``<workload>-<replica>-<id>``), so one
command serves all three.
"""

import time
from typing import Annotated, Any

import typer

from edgeorch.cli.output import OutputFormat, age, console, emit_data, emit_list, short_id
from edgeorch.cli.state import api_client, fail

PHASES = ("pre_checks", "snapshot", "transfer", "switchover", "cleanup")
_STATE = {
    "succeeded": "[green]succeeded[/]",
    "failed": "[red]failed[/]",
    "rolled_back": "[yellow]rolled_back[/]",
}


def _downtime(m: dict[str, Any]) -> str:
    value = m["status"].get("downtime_ms")
    return "-" if value is None else f"{value:.1f} ms"


def _line(m: dict[str, Any]) -> str:
    st = m["status"]
    state = _STATE.get(st["state"], st["state"])
    text = f"{m['metadata']['name']}: {state} {st['phase']} {st['progress']:>3}%"
    if st.get("message"):
        text += f"  {st['message']}"
    return text


def _show(m: dict[str, Any]) -> None:
    spec, st = m["spec"], m["status"]
    console.print(_line(m), highlight=False)
    console.print(
        f"  {spec['type']} migration of {spec['instance_name']} ({spec['workload_name']}): "
        f"{short_id(spec['source_node_id'])} -> {short_id(spec['target_node_id'])}"
        f"{' (chosen by placement)' if spec['automatic'] else ''}; reason: {spec['reason']}",
        highlight=False,
    )
    console.print(
        f"  max downtime {spec['max_downtime_ms']:g} ms, measured {_downtime(m)}; "
        f"pre-copy rounds {st.get('precopy_rounds') or 0}, "
        f"bytes {st.get('bytes_transferred') or 0}",
        highlight=False,
    )
    for phase in PHASES:
        times = st["phases"].get(phase)
        if times:
            done = age(times["finished_at"]) + " ago" if times.get("finished_at") else "..."
            console.print(f"  {phase:<11} started {age(times['started_at'])} ago, done {done}")
    if st.get("error"):
        console.print(f"  [red]error[/] {st['error']}", highlight=False)


def migrate(
    ctx: typer.Context,
    instance: Annotated[str, typer.Argument(help="instance id or name; or 'ls', or 'show ID'")],
    migration: Annotated[str | None, typer.Argument(help="with 'show': the migration")] = None,
    to: Annotated[str, typer.Option("--to", help="target node id or name, or 'auto'")] = "auto",
    kind: Annotated[str, typer.Option("--type", help="live, cold or snapshot")] = "live",
    max_downtime: Annotated[str, typer.Option(help="e.g. 50ms, 5s")] = "300ms",
    reason: Annotated[str, typer.Option(help="why, recorded in the events")] = "manual",
    wait: Annotated[bool, typer.Option("--wait", help="follow the progress until it ends")] = False,
    state: Annotated[str | None, typer.Option(help="with 'ls': only this state")] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """Move an instance to another node (live for wasm: its memory goes along), or list and
    show migrations."""
    if instance == "ls":
        return _ls(ctx, state, output)
    if instance == "show":
        if migration is None:
            fail("usage: edgeorch migrate show MIGRATION")
        return _get(ctx, migration, output)
    body = {
        "instance": instance,
        "target_node": to,
        "type": kind,
        "max_downtime": max_downtime,
        "reason": reason,
    }
    with api_client(ctx) as client:
        created = client.request("POST", "/migrations", json=body)
        if not wait:
            return (
                emit_data(created, output) if output is not OutputFormat.TABLE else _show(created)
            )
        _follow(client, created["metadata"]["id"])


def _follow(client: Any, migration_id: str) -> None:
    last = ""
    while True:
        current = client.get(f"/migrations/{migration_id}")
        line = _line(current)
        if line != last:
            console.print(line, highlight=False)
            last = line
        if current["status"]["state"] not in ("pending", "running"):
            _show(current)
            if current["status"]["state"] != "succeeded":
                raise typer.Exit(1)
            return
        time.sleep(0.2)


def _ls(ctx: typer.Context, state: str | None, output: OutputFormat) -> None:
    with api_client(ctx) as client:
        data = client.list_all("/migrations", state=state)
    emit_list(
        data,
        output,
        [
            ("NAME", lambda m: m["metadata"]["name"]),
            ("TYPE", lambda m: m["spec"]["type"]),
            ("STATE", lambda m: _STATE.get(m["status"]["state"], m["status"]["state"])),
            ("PHASE", lambda m: f"{m['status']['phase']} {m['status']['progress']}%"),
            ("FROM", lambda m: short_id(m["spec"]["source_node_id"])),
            ("TO", lambda m: short_id(m["spec"]["target_node_id"])),
            ("DOWNTIME", _downtime),
            ("AGE", lambda m: age(m["metadata"]["created_at"])),
        ],
        empty="no migrations",
    )


def _get(ctx: typer.Context, migration: str, output: OutputFormat) -> None:
    with api_client(ctx) as client:
        found = client.get(f"/migrations/{migration}")
    if output is OutputFormat.TABLE:
        _show(found)
    else:
        emit_data(found, output)


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to ``app``."""
    app.command("migrate")(migrate)
