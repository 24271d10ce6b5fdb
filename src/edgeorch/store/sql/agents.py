"""Agent-facing store functions: joining a node, and reading a node's assignments.

Invariants:

- A join consumes its join token (it is revoked in the same transaction), and any earlier ``node``
  credential of the same node is revoked, so exactly one agent speaks for a node at a time.
- A node's assignment set is its bound instances with their workloads' specs. Its ``digest``
  covers desired state only (never status), so an agent reporting status does not change it.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from edgeorch.domain.enums import NodeState, TokenRole
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node, NodeCreate, NodeSpec
from edgeorch.schemas.token import TokenCreated
from edgeorch.schemas.workload import Workload
from edgeorch.store.errors import InvalidRequest
from edgeorch.store.sql import objects
from edgeorch.store.sql.changes import current_revision
from edgeorch.store.sql.instances import to_instance
from edgeorch.store.sql.nodes import create_node, to_node, update_node_status
from edgeorch.store.sql.orm import InstanceRow, NodeRow, TokenRow, WorkloadRow
from edgeorch.store.sql.tokens import create_token
from edgeorch.store.sql.workloads import to_workload


@dataclass(frozen=True)
class Assignment:
    """One instance bound to a node, with the workload it is a replica of."""

    instance: Instance
    workload: Workload


@dataclass(frozen=True)
class Assignments:
    """A node's assignment set read at store ``revision``; ``digest`` identifies its content."""

    revision: int
    digest: str
    items: list[Assignment]


@dataclass(frozen=True)
class JoinResult:
    """The node an agent joined as, whether it was created by the join, and its credential."""

    node: Node
    created: bool
    credential: TokenCreated
    revoked: tuple[str, ...] = ()  # token ids the join revoked (the join token, old credentials)


def join_node(
    *,
    session: Session,
    tenant: str,
    name: str,
    join_token_id: str,
    new_node: NodeCreate | None,
    measured: dict[str, Any],
    agent: dict[str, str],
    credential_ttl: timedelta | None = None,
) -> JoinResult:
    """Bind the agent to the node ``name`` of ``tenant`` (pending → ready), or register it from
    ``new_node`` when no such node exists. ``measured`` (arch, capacity, capabilities) replaces
    those spec fields, because the agent measured them on the machine itself; capabilities the
    operator declared that are not runtimes (``gpu_acceleration``, ...) are kept."""
    row = session.scalar(select(NodeRow).where(NodeRow.tenant == tenant, NodeRow.name == name))
    created = row is None
    if row is None:
        if new_node is None:
            raise InvalidRequest(
                f"no node named {name!r} is registered in tenant {tenant!r}; give its "
                "edge_type, region, latitude, longitude and country to register it"
            )
        node = create_node(session=session, node=new_node, tenant=tenant)
        row = objects.find(session, NodeRow, "Node", node.metadata.id, tenant)
    declared = [c for c in row.spec.get("capabilities", []) if not c.endswith("_runtime")]
    runtimes = list(measured.get("capabilities", []))
    merged = {**row.spec, **measured, "capabilities": sorted({*declared, *runtimes})}
    spec = NodeSpec.model_validate(merged)
    row.spec = spec.model_dump(mode="json")
    status = to_node(row).status.model_copy(
        update={
            "state": NodeState.READY,
            "joined_at": objects.now(session),
            "last_heartbeat": objects.now(session),
            "agent": agent,
            "message": "agent joined",
        }
    )
    node = update_node_status(session=session, node_id=row.id, status=status)
    revoked = _revoke(session, TokenRow.node_id == row.id, TokenRow.role == TokenRole.NODE.value)
    revoked += _revoke(session, TokenRow.id == join_token_id)
    credential = create_token(
        session=session,
        role=TokenRole.NODE,
        name=f"node {name}",
        tenant=tenant,
        node_id=row.id,
        ttl=credential_ttl,
    )
    return JoinResult(node=node, created=created, credential=credential, revoked=revoked)


def _revoke(session: Session, *where: Any) -> tuple[str, ...]:
    moment = objects.now(session)
    revoked = []
    for token in session.scalars(select(TokenRow).where(*where, TokenRow.revoked_at.is_(None))):
        token.revoked_at = moment
        revoked.append(token.id)
    session.flush()
    return tuple(revoked)


def read_assignments(*, session: Session, node_id: str) -> Assignments:
    """The instances bound to ``node_id`` with their workloads, ordered by instance name."""
    revision = current_revision(session=session)
    rows = session.execute(
        select(InstanceRow, WorkloadRow)
        .join(WorkloadRow, WorkloadRow.id == InstanceRow.workload_id)
        .where(InstanceRow.node_id == node_id)
        .order_by(InstanceRow.name, InstanceRow.id)
    ).all()
    items = [Assignment(instance=to_instance(i), workload=to_workload(w)) for i, w in rows]
    return Assignments(revision=revision, digest=assignments_digest(items), items=items)


def assignments_digest(items: list[Assignment]) -> str:
    """``sha256:<hex>`` of the desired state of ``items`` (ids, names, specs; never status)."""
    canonical = [
        {
            "instance": [a.instance.metadata.id, a.instance.metadata.name],
            "instance_spec": a.instance.spec.model_dump(mode="json"),
            "workload": [a.workload.metadata.id, a.workload.metadata.name],
            "workload_spec": a.workload.spec.model_dump(mode="json"),
        }
        for a in items
    ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
