"""``edgeorch simulate``: run a simulated fleet against a control plane (``edgeorch.sim``)."""

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from edgeorch.cli.client import resolve_target
from edgeorch.cli.output import console, emit_error
from edgeorch.cli.state import state_of
from edgeorch.config import freeze_survivors, tune_garbage_collector
from edgeorch.sim.faults import Fault, FaultError, parse_fault, per_second_probability
from edgeorch.sim.fleet import FleetError, SimNode, generate_fleet, parse_edge_types, parse_regions
from edgeorch.sim.runner import SimConfig, Simulation, SimulationError, Summary, run_on_loop
from edgeorch.sim.scenario import ScenarioError, load_scenario


def console_events(kind: str, message: str) -> None:
    """Print one simulator event as a timestamped console line."""
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    style = {"kill": "red", "fail": "red", "hang": "yellow", "partition": "yellow"}.get(
        kind, "cyan"
    )
    console.print(f"[dim]{stamp}[/] [{style}]{kind:<13}[/] {message}", highlight=False)


def _nodes(
    scenario: Path | None, count: int, regions: str, edge_types: str | None, seed: int
) -> tuple[list[SimNode], list[str]]:
    if scenario is not None:
        loaded = load_scenario(scenario)
        return loaded.nodes, sorted({n.node.spec.region for n in loaded.nodes})
    names = parse_regions(regions)
    return generate_fleet(count, names, edge_types=parse_edge_types(edge_types), seed=seed), names


def simulate(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(help="control plane URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="admin token: registers the nodes and mints join tokens")
    ] = None,
    join_token: Annotated[
        list[str] | None,
        typer.Option(help="a single-use join token; repeat once per node (instead of --token)"),
    ] = None,
    nodes: Annotated[int, typer.Option(help="how many simulated nodes")] = 10,
    regions: Annotated[
        str, typer.Option(help="comma-separated regions")
    ] = "us-west,us-east,eu-west",
    edge_types: Annotated[
        str | None, typer.Option(help="comma-separated edge types [default: a mix]")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same fleet and faults")] = 0,
    scenario: Annotated[
        Path | None, typer.Option(help="YAML/JSON scenario file (replaces --nodes/--regions)")
    ] = None,
    heartbeat_interval: Annotated[float, typer.Option(help="seconds")] = 5.0,
    watch_timeout: Annotated[
        float, typer.Option(help="assignment long-poll seconds (the server caps it at 60)")
    ] = 55.0,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    fail_rate: Annotated[float, typer.Option(help="per-minute probability that a node dies")] = 0.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="kill:10%@60s, hang:5@30s+20s, partition:eu-west@120s+30s, churn:5/min"),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="keep node credentials here to resume the same fleet")
    ] = None,
) -> None:
    """Run N simulated edge agents in this process against a real control plane."""
    try:
        fleet, region_names = _nodes(scenario, nodes, regions, edge_types, seed)
        faults: list[Fault] = [parse_fault(f) for f in fault or []]
        per_second_probability(fail_rate)
        unknown = [
            f.region for f in faults if f.kind == "partition" and f.region not in region_names
        ]
        if unknown:
            raise FaultError(
                f"partition of {unknown[0]!r}: no simulated node is in it "
                f"(regions here: {', '.join(region_names)})"
            )
    except (FleetError, FaultError, ScenarioError) as exc:
        emit_error(str(exc))
        raise typer.Exit(2) from exc
    state = state_of(ctx)
    target = resolve_target(server or state.server, token or state.token, state.context)
    admin = None if join_token else target.token
    extra_types = parse_edge_types(edge_types)

    def new_node(i: int) -> SimNode:
        return generate_fleet(
            1, region_names, edge_types=extra_types, seed=seed, prefix="churn", start=i
        )[0]

    config = SimConfig(
        server=target.server,
        nodes=fleet,
        admin_token=admin,
        join_tokens=list(join_token or []),
        heartbeat_interval=heartbeat_interval,
        watch_timeout=watch_timeout,
        seed=seed,
        faults=faults,
        fail_rate=fail_rate,
        duration=duration,
        state_file=state_file,
        new_node=new_node if scenario is None else None,
    )
    console.print(
        f"simulating {len(fleet)} nodes in {', '.join(region_names)} against {target.server}"
    )
    started = time.monotonic()
    # Thousands of simulated agents are a large, long-lived heap: the collector's pauses would
    # stall every agent's timers and show up as heartbeat latency (config.freeze_survivors).
    tune_garbage_collector()
    try:
        summary = run_on_loop(_run(config))
    except SimulationError as exc:
        emit_error(str(exc))
        raise typer.Exit(1) from exc
    console.rule("simulation summary")
    for line in summary.lines():
        console.print(line, highlight=False)
    console.print(f"[dim]wall time {time.monotonic() - started:.1f} s[/]")


async def _run(config: SimConfig) -> Summary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    undo = freeze_survivors(loop)
    try:
        return await Simulation(config, events=console_events).run(stop)
    finally:
        undo()


def register(app: typer.Typer) -> None:
    """Add ``edgeorch simulate``."""
    app.command("simulate")(simulate)
