"""Client verbs over objects: ``node``, ``workload``, ``apply`` and ``events``."""

import time
from typing import Annotated, Any

import typer

from edgeorch.cli.output import (
    OutputFormat,
    age,
    console,
    emit_data,
    emit_list,
    emit_table,
    short_id,
    status_word,
)
from edgeorch.cli.state import api_client, read_manifest

Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="table, json or yaml")]
Limit = Annotated[int | None, typer.Option("--limit", help="show at most this many")]
Selector = Annotated[
    str | None, typer.Option("--selector", "-l", help="label selector, e.g. site=factory,tier!=x")
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="tenant (fleet admins: any)")]

node_app = typer.Typer(help="Edge nodes: list, show, remove.", no_args_is_help=True)
workload_app = typer.Typer(help="Workloads: list, show, scale, remove.", no_args_is_help=True)


def _node_state(node: dict[str, Any]) -> str:
    scheduling = node["spec"].get("scheduling", "enabled")
    state = str(node["status"]["state"])
    return state if scheduling == "enabled" else f"{state},{scheduling}"


NODE_COLUMNS = [
    ("ID", lambda n: short_id(n["metadata"]["id"])),
    ("NAME", lambda n: n["metadata"]["name"]),
    ("STATUS", lambda n: ",".join(status_word(w) for w in _node_state(n).split(","))),
    ("TYPE", lambda n: n["spec"]["edge_type"]),
    ("REGION", lambda n: n["spec"]["region"]),
    ("COUNTRY", lambda n: n["spec"]["country"]),
    ("CPU", lambda n: f"{n['spec']['capacity']['cpu']:g}"),
    ("MEMORY", lambda n: f"{n['spec']['capacity']['memory_mb']} MB"),
    ("COST/H", lambda n: f"{n['spec']['cost_per_hour']:.3f}"),
    ("AGE", lambda n: age(n["metadata"]["created_at"])),
]

WORKLOAD_COLUMNS = [
    ("ID", lambda w: short_id(w["metadata"]["id"])),
    ("NAME", lambda w: w["metadata"]["name"]),
    ("RUNTIME", lambda w: w["spec"]["runtime"]),
    ("READY", lambda w: f"{w['status']['running_replicas']}/{w['status']['desired_replicas']}"),
    ("PLACED", lambda w: str(w["status"]["placed_replicas"])),
    ("TENANT", lambda w: w["metadata"]["tenant"]),
    ("AGE", lambda w: age(w["metadata"]["created_at"])),
]


@node_app.command("ls")
def node_ls(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="only this region")] = None,
    edge_type: Annotated[str | None, typer.Option("--edge-type", help="only this type")] = None,
    status: Annotated[str | None, typer.Option(help="pending, ready, suspect or down")] = None,
    selector: Selector = None,
    tenant: Tenant = None,
    limit: Limit = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List nodes."""
    with api_client(ctx) as client:
        data = client.list_all(
            "/edge/nodes",
            limit=limit,
            region=region,
            edge_type=edge_type,
            status=status,
            label_selector=selector,
            tenant=tenant,
        )
    emit_list(data, output, NODE_COLUMNS, empty="no nodes match")


@node_app.command("show")
def node_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="node id, name or id prefix")],
    output: Output = OutputFormat.YAML,
) -> None:
    """Show one node."""
    with api_client(ctx) as client:
        node = client.get(f"/edge/nodes/{ref}")
    if output is OutputFormat.TABLE:
        emit_table([node], NODE_COLUMNS, empty="")
        return
    emit_data(node, output)


def _each_node(ctx: typer.Context, refs: list[str], method: str, suffix: str, done: str) -> None:
    """``method`` on ``/edge/nodes/<ref><suffix>`` for each ref, one line per node."""
    with api_client(ctx) as client:
        for ref in refs:
            node = client.request(method, f"/edge/nodes/{ref}{suffix}")
            console.print(f"node/{node['metadata']['name']} {done}")


@node_app.command("rm")
def node_rm(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="node ids, names or id prefixes")],
) -> None:
    """Remove nodes."""
    _each_node(ctx, refs, "DELETE", "", "removed")


@workload_app.command("ls")
def workload_ls(
    ctx: typer.Context,
    runtime: Annotated[str | None, typer.Option(help="process, wasm, container or vm")] = None,
    selector: Selector = None,
    tenant: Tenant = None,
    limit: Limit = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List workloads."""
    with api_client(ctx) as client:
        data = client.list_all(
            "/workloads", limit=limit, runtime=runtime, label_selector=selector, tenant=tenant
        )
    emit_list(data, output, WORKLOAD_COLUMNS, empty="no workloads match")


INSTANCE_COLUMNS = [
    ("ID", lambda i: short_id(i["metadata"]["id"])),
    ("REPLICA", lambda i: str(i["spec"]["replica"])),
    ("NODE", lambda i: short_id(i["spec"].get("node_id")) or "-"),
    ("STATE", lambda i: status_word(i["status"]["state"])),
    ("ENDPOINT", lambda i: i["status"].get("endpoint") or "-"),
    ("MESSAGE", lambda i: i["status"].get("message") or ""),
]


@workload_app.command("show")
def workload_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="workload id, name or id prefix")],
    output: Output = OutputFormat.TABLE,
) -> None:
    """Show one workload and its instances."""
    with api_client(ctx) as client:
        workload = client.get(f"/workloads/{ref}")
        instances = client.list_all("/instances", workload=workload["metadata"]["id"])
    if output is not OutputFormat.TABLE:
        emit_data(workload, output)
        return
    emit_table([workload], WORKLOAD_COLUMNS, empty="")
    console.print()
    emit_table(instances["items"], INSTANCE_COLUMNS, empty="no instances yet")


@workload_app.command("scale")
def workload_scale(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="workload id, name or id prefix")],
    replicas: Annotated[int, typer.Option("--replicas", "-r", min=0, help="new replica count")],
) -> None:
    """Set the number of replicas."""
    with api_client(ctx) as client:
        workload = client.request("PUT", f"/workloads/{ref}/scale", json={"replicas": replicas})
    console.print(
        f"workload/{workload['metadata']['name']} scaled to "
        f"{workload['status']['desired_replicas']}"
    )


@workload_app.command("rm")
def workload_rm(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="workload ids, names or id prefixes")],
) -> None:
    """Remove workloads and their instances."""
    with api_client(ctx) as client:
        for ref in refs:
            workload = client.request("DELETE", f"/workloads/{ref}")
            console.print(f"workload/{workload['metadata']['name']} deleted")


def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Option("--filename", "-f", help="manifest file, or - for stdin")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only")] = False,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Create or update the objects in a YAML or JSON manifest (several documents allowed).

    All documents are validated first and written together: if any is wrong, nothing changes.
    """
    text, content_type = read_manifest(file)
    with api_client(ctx) as client:
        result = client.request(
            "POST",
            "/apply",
            content=text.encode(),
            headers={"Content-Type": content_type},
            params={"dry_run": str(dry_run).lower()},
        )
    if output is not OutputFormat.TABLE:
        emit_data(result, output)
        return
    suffix = " (dry run)" if result["dry_run"] else ""
    for item in result["items"]:
        console.print(f"{item['kind'].lower()}/{item['name']} {item['action']}{suffix}")


EVENT_COLUMNS = [
    ("REVISION", lambda e: str(e["revision"])),
    ("AGE", lambda e: age(e["time"])),
    ("TYPE", lambda e: "[yellow]Warning[/]" if e["type"] == "Warning" else e["type"]),
    ("REASON", lambda e: e["reason"]),
    ("OBJECT", lambda e: f"{e['involved_object']['kind'].lower()}/{e['involved_object']['name']}"),
    ("MESSAGE", lambda e: e["message"]),
]


def events(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="only about this kind, e.g. Node")] = None,
    since: Annotated[int | None, typer.Option(help="only after this revision")] = None,
    tenant: Tenant = None,
    limit: Limit = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """List events: what the system did and why."""
    with api_client(ctx) as client:
        data = client.list_all(
            "/events", limit=limit, kind=kind, since_revision=since, tenant=tenant
        )
    emit_list(data, output, EVENT_COLUMNS, empty="no events")


# -- operations: cordon, uncordon, drain, rollout (docs/operations.md) -----------------------

rollout_app = typer.Typer(help="Rolling updates: status, undo.", no_args_is_help=True)
DRAIN_POLL = 1.0  # seconds between progress reads of 'node drain --wait'


@node_app.command("cordon")
def node_cordon(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="node ids, names or id prefixes")],
) -> None:
    """Place nothing new on nodes; what they run stays."""
    _each_node(ctx, refs, "POST", "/cordon", "cordoned")


@node_app.command("uncordon")
def node_uncordon(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="node ids, names or id prefixes")],
) -> None:
    """Let nodes take new instances again (also stops a drain)."""
    _each_node(ctx, refs, "POST", "/uncordon", "uncordoned")


@node_app.command("drain")
def node_drain(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="node id, name or id prefix")],
    wait: Annotated[bool, typer.Option("--wait", help="show progress until drained")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="with --wait: give up after S seconds")
    ] = 600.0,
) -> None:
    """Cordon a node and move its instances elsewhere within their disruption budgets."""
    with api_client(ctx) as client:
        progress = client.request("POST", f"/edge/nodes/{ref}/drain")
        name = progress["node_name"]
        console.print(f"node/{name} draining: {progress['left']} instance(s) to move")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        shown: tuple[object, ...] = ()
        while not progress["done"]:
            now = (progress["left"], tuple(w["reason"] for w in progress["waiting"]))
            if now != shown:
                for item in progress["waiting"]:
                    console.print(f"  {item['instance']}: {item['reason']}")
                shown = now
            if time.monotonic() > deadline:
                console.print(
                    f"node/{name} still has {progress['left']} instance(s) after {timeout:g} s"
                )
                raise typer.Exit(1)
            time.sleep(DRAIN_POLL)
            progress = client.get(f"/edge/nodes/{progress['node_id']}/drain")
        console.print(f"node/{name} drained")


@rollout_app.command("status")
def rollout_status(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="workload id, name or id prefix")],
    output: Output = OutputFormat.TABLE,
) -> None:
    """Revision, updated/available/unavailable counts and the latest rollout's state."""
    with api_client(ctx) as client:
        view = client.get(f"/workloads/{ref}/rollout")
    if output is not OutputFormat.TABLE:
        emit_data(view, output)
        return
    rollout = view.get("rollout") or {}
    console.print(
        f"workload/{view['workload']}: revision {view['revision']} "
        f"(generation {view['generation']}, observed {view['observed_generation']})"
    )
    console.print(
        f"  desired {view['desired']}, updated {view['updated']}, available {view['available']}, "
        f"unavailable {view['unavailable']}, old {view['old']}"
    )
    if rollout:
        kind = "rollback" if rollout.get("rollback") else "rollout"
        console.print(
            f"  {kind} {rollout['from_revision']} -> {rollout['revision']}: "
            f"{status_word(rollout['state'])} {rollout.get('message', '')}"
        )
    for rev in view["revisions"]:
        mark = "*" if rev["current"] else " "
        console.print(f"  {mark} revision {rev['number']}: {rev['artifact']}")


@rollout_app.command("undo")
def rollout_undo(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="workload id, name or id prefix")],
    to_revision: Annotated[
        int | None, typer.Option("--to-revision", min=1, help="default: the previous one")
    ] = None,
) -> None:
    """Go back to the previous revision (or --to-revision); it is rolled out like any change."""
    body = {} if to_revision is None else {"to_revision": to_revision}
    with api_client(ctx) as client:
        workload = client.request("POST", f"/workloads/{ref}/rollout/undo", json=body)
    console.print(
        f"workload/{workload['metadata']['name']} rolling back (generation "
        f"{workload['status']['generation']})"
    )


def register(app: typer.Typer) -> None:
    """Add the object commands to ``app``."""
    app.add_typer(node_app, name="node")
    app.add_typer(workload_app, name="workload")
    workload_app.add_typer(rollout_app, name="rollout")
    app.command()(apply)
    app.command()(events)
