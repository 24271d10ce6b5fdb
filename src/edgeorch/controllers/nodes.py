"""Node lifecycle: a node that stops heartbeating becomes ``suspect``, then ``down``.

``assess`` is pure: given the nodes, when each was last heard from and ``now``, it returns the
transitions. Last-seen comes from the in-memory presence of the server receiving heartbeats
(exact there), and is never earlier than this controller's start: a control-plane restart has
no presence yet, and must not turn healthy nodes down, so the grace clock starts at start-up.

When more than ``partition_share`` of a region's nodes (and at least ``partition_min_nodes``)
are silent at once, the cause is more likely a network cut than many dead machines: those
nodes are kept ``suspect`` (never ``down``), so nothing is mass-rescheduled, and one
``NetworkPartitionSuspected`` Warning is recorded for the region.

Invariants: ``pending`` nodes (never joined) are left alone; a node only becomes ``ready`` by
heartbeating (``routes/agent.py``), never by this controller.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edgeorch.controllers.plan import Op, Plan, RecordEvent, UpdateNodeStatus
from edgeorch.controllers.reconcile import NodeView
from edgeorch.controllers.settings import ControllerSettings
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import Node

LastSeen = Callable[[str], datetime | None]


def for_one_pass(presence: LastSeen) -> LastSeen:
    """``presence`` as its lookup table's own ``get`` for a whole pass, when it can give one
    (``lookup()``, as the API server's does): a dict look-up per node instead of a call."""
    lookup: Callable[[], LastSeen] | None = getattr(presence, "lookup", None)
    return presence if lookup is None else lookup()


Stalls = Callable[[datetime], float]  # seconds the heartbeat receiver stalled since a moment


@dataclass(frozen=True)
class Transition:
    """Node ``node`` goes from its stored state to ``to`` because of ``silent`` seconds."""

    node: Node
    to: NodeState
    silent: float
    reason: str
    message: str


@dataclass(frozen=True)
class Assessment:
    """Transitions, and the regions that look cut off."""

    transitions: tuple[Transition, ...]
    partitioned: frozenset[str]


def _joined(node: Node) -> bool:
    return node.status.state is not NodeState.PENDING


def _partitioned(
    nodes: Iterable[Node],
    silent: Mapping[str, float],
    settings: ControllerSettings,
    totals: Mapping[str, int],
) -> frozenset[str]:
    quiet: dict[str, list[float]] = defaultdict(list)
    threshold = settings.suspect_after
    for node in nodes:
        gap = silent[node.metadata.id]
        if gap >= threshold:
            quiet[node.spec.region].append(gap)
    cut = set()
    for region, gaps in quiet.items():
        # "At once": they went silent within one grace window of each other.
        together = max(gaps) - min(gaps) <= settings.down_after
        total = totals.get(region, 0)
        big = total >= settings.partition_min_nodes
        if big and together and len(gaps) > settings.partition_share * total:
            cut.add(region)
    return frozenset(cut)


def region_totals(nodes: Iterable[Node]) -> dict[str, int]:
    """Joined nodes per region."""
    totals: dict[str, int] = defaultdict(int)
    for node in nodes:
        if _joined(node):
            totals[node.spec.region] += 1
    return totals


def assess(
    nodes: Iterable[Node],
    last_seen: Mapping[str, datetime],
    now: datetime,
    settings: ControllerSettings,
    totals: Mapping[str, int] | None = None,
) -> Assessment:
    """The state each joined node should be in now, where it differs from the stored one.

    ``totals`` (joined nodes per region, :func:`region_totals`) is needed when ``nodes`` are
    only some of the fleet, the silent ones (``lifecycle_plan`` passes only those: on a
    healthy fleet of 10,000 that is none); without it ``nodes`` must be all of it."""
    joined = [n for n in nodes if _joined(n)]
    silent = {n.metadata.id: (now - last_seen[n.metadata.id]).total_seconds() for n in joined}
    cut = _partitioned(
        joined, silent, settings, region_totals(joined) if totals is None else totals
    )
    out: list[Transition] = []
    for node in joined:
        gap = silent[node.metadata.id]
        if gap < settings.suspect_after:
            continue  # the common case: heard from lately (only a heartbeat makes it ready)
        state = node.status.state
        if gap >= settings.down_after and node.spec.region not in cut:
            target = NodeState.DOWN
        elif gap >= settings.suspect_after:
            target = NodeState.SUSPECT
        else:
            continue  # only a heartbeat makes a node ready again
        if target is state or (state is NodeState.DOWN and target is NodeState.SUSPECT):
            continue
        silence = f"node {node.metadata.name} missed heartbeats for {gap:.0f} s"
        if target is NodeState.DOWN:
            message = f"{silence} (down after {settings.down_after:g} s)"
            reason = "NodeDown"
        elif node.spec.region in cut:
            message = (
                f"{silence}; its region {node.spec.region} looks cut off, so it is kept suspect"
            )
            reason = "NodeSuspect"
        else:
            message = f"{silence} (suspect after {settings.suspect_after:g} s)"
            reason = "NodeSuspect"
        out.append(Transition(node, target, gap, reason, message))
    return Assessment(tuple(out), cut)


@dataclass
class NodeTracker:
    """The node controller's memory: start time, known cut regions, the nodes that were
    suspect or down after the last pass (to tell when one recovers), and the nodes changed
    since the last pass was noted (``None``: look at all of them)."""

    started: datetime
    partitioned: frozenset[str] = frozenset()
    troubled: dict[str, NodeState] = field(default_factory=dict)
    changed: set[str] | None = None

    def note_changed(self, node_ids: Iterable[str] | None) -> None:
        """Nodes a read of the store found changed (``None``: it read all of them)."""
        if node_ids is None:
            self.changed = None
        elif self.changed is not None:
            self.changed.update(node_ids)

    def last_seen(self, node: Node, presence: LastSeen) -> datetime:
        """When ``node`` was last heard from: the latest of the in-memory presence, the stored
        heartbeat and join times, and this controller's start (so a restart is no silence)."""
        # Called for every node every tick: plain comparisons, no intermediate lists.
        best = self.started
        status = node.status
        for t in (presence(node.metadata.id), status.last_heartbeat, status.joined_at):
            if t is not None and t > best:
                best = t
        return best


@dataclass
class DownClock:
    """Since when each node has been down, as its reader saw it: the workload controller's
    ``lost_after`` clock.

    The node-lifecycle controller runs in the process that receives the heartbeats; the
    workload controller may run in another (``controllers/process.py``), so it reads the down
    times off the store rather than from the lifecycle controller's memory: a node's clock
    starts when this reader first sees it down (within one feed wake-up of the write), and for
    nodes already down when the reader starts, at its start (a control-plane restart restarts
    ``lost_after``, never shortens it).
    """

    since: dict[str, datetime] = field(default_factory=dict)

    def views(self, nodes: Mapping[str, Node], now: datetime) -> dict[str, NodeView]:
        """What the reconciler needs of each node; forgets nodes that are no longer down."""
        out: dict[str, NodeView] = {}
        since = self.since
        for node_id, node in nodes.items():
            state = node.status.state
            down = since.setdefault(node_id, now) if state is NodeState.DOWN else None
            out[node_id] = NodeView(node_id, state, node.spec.scheduling, down)
        for node_id in [n for n in since if out.get(n) is None or out[n].down_since is None]:
            del since[node_id]
        return out


def lifecycle_plan(
    nodes: Mapping[str, Node],
    tracker: NodeTracker,
    presence: LastSeen,
    now: datetime,
    settings: ControllerSettings,
    revision: int,
    stalled: Stalls | None = None,
) -> tuple[Plan, frozenset[str]]:
    """Transitions as node-status writes with events, partition events when that changes,
    and a ``NodeRecovered`` event for nodes that heartbeat again; also the cut regions.

    ``stalled(t)`` is how long the process receiving the heartbeats could not read them since
    ``t`` (``api/looplag.py``); that time is not the nodes' silence.

    Runs twice a second over the whole fleet in the API server's process, so the common case
    (a node heard from lately) is one presence lookup and one comparison; only silent nodes
    go on to :func:`assess` (a pass over 10,000 healthy nodes went from 144 to ~10 ms)."""
    fresh_after = now - timedelta(seconds=settings.suspect_after)
    silent: list[Node] = []
    seen: dict[str, datetime] = {}
    if tracker.started <= fresh_after:  # nobody can be silent yet within suspect_after of start
        for node_id, node in nodes.items():
            heard = presence(node_id)
            if heard is not None and heard > fresh_after:
                continue  # the common case
            if node.status.state is NodeState.PENDING:
                continue
            since = tracker.last_seen(node, presence)
            if since > fresh_after:
                continue
            if stalled is not None:
                since += timedelta(seconds=stalled(since))
                if since > fresh_after:
                    continue
            silent.append(node)
            seen[node_id] = since
    totals = region_totals(nodes.values()) if silent else {}
    result = assess(silent, seen, now, settings, totals)
    ops: list[Op] = []
    for t in result.transitions:
        # The stored heartbeat time may be minutes old (agent/presence.py persists it rarely):
        # a node that goes silent keeps the time it was last heard from.
        times = (presence(t.node.metadata.id), t.node.status.last_heartbeat)
        last = max((x for x in times if x is not None), default=None)
        status = t.node.status.model_copy(
            update={"state": t.to, "message": t.message, "last_heartbeat": last}
        )
        ops.append(UpdateNodeStatus(t.node.metadata.id, t.node.metadata.resource_version, status))
        ops.append(_node_event(t.node, t.reason, t.message, "Warning"))
    for region in sorted(result.partitioned - tracker.partitioned):
        ops.append(
            _region_event(
                nodes,
                region,
                "NetworkPartitionSuspected",
                "Warning",
                f"more than {settings.partition_share:.0%} of region {region}'s nodes went silent "
                "together; assuming a network cut: they stay suspect and are not rescheduled",
            )
        )
    for region in sorted(tracker.partitioned - result.partitioned):
        ops.append(
            _region_event(
                nodes,
                region,
                "NetworkPartitionEnded",
                "Normal",
                f"region {region} is no longer cut off",
            )
        )
    for node_id, before in tracker.troubled.items():
        back = nodes.get(node_id)
        if back is not None and back.status.state is NodeState.READY:
            message = f"node {back.metadata.name} is heartbeating again (was {before.value})"
            ops.append(_node_event(back, "NodeRecovered", message, "Normal"))
    return Plan(revision, tuple(ops)), result.partitioned


def note_applied(
    tracker: NodeTracker,
    partitioned: frozenset[str],
    nodes: Mapping[str, Node],
    plan: Plan,
) -> None:
    """Remember what a committed lifecycle ``plan`` left: the cut regions and the nodes that
    are suspect or down (for ``NodeRecovered`` events). ``nodes`` is read after the commit: a
    troubled node that a heartbeat made ready after the plan was made, so the plan did not
    report it, stays noted and is reported by the next pass.

    Looks only at the nodes changed since the last note (``tracker.changed``), those the plan
    wrote and those it reported: on a healthy fleet of 10,000 a scan of every node's state
    was ~15 ms of the pass, twice a second, while a handful of nodes change per pass."""
    reported = {op.object_id for op in plan.of(RecordEvent) if op.reason == "NodeRecovered"}
    troubled = tracker.troubled
    if tracker.changed is None:
        look_at: Iterable[str] = nodes.keys() | troubled.keys()
    else:
        written = {op.node_id for op in plan.of(UpdateNodeStatus)}
        look_at = tracker.changed | written | reported
    for node_id in look_at:
        node = nodes.get(node_id)
        if node is None:
            troubled.pop(node_id, None)  # deleted
            continue
        state = node.status.state
        if state is NodeState.SUSPECT or state is NodeState.DOWN:
            troubled[node_id] = state
        elif node_id in reported:
            troubled.pop(node_id, None)
        # else: back before this plan saw it; stays noted with its earlier state
    tracker.partitioned = partitioned
    tracker.changed = set()


def _node_event(node: Node, reason: str, message: str, type_: str) -> RecordEvent:
    return RecordEvent(
        tenant=node.metadata.tenant,
        kind="Node",
        object_id=node.metadata.id,
        name=node.metadata.name,
        reason=reason,
        message=message,
        type="Warning" if type_ == "Warning" else "Normal",
    )


def _region_event(
    nodes: Mapping[str, Node], region: str, reason: str, type_: str, message: str
) -> RecordEvent:
    # Events are about an object; a region is not one, so the event names a node in it.
    anchor = min(
        (n for n in nodes.values() if n.spec.region == region), key=lambda n: n.metadata.name
    )
    return _node_event(anchor, reason, message, type_)
