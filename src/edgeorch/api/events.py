"""Recording events for the API's own writes, in the same transaction as the write."""

from typing import Literal

from sqlalchemy.orm import Session

from edgeorch.schemas.event import InvolvedObject
from edgeorch.store import create_event


def record(
    session: Session,
    *,
    tenant: str,
    kind: str,
    object_id: str,
    name: str,
    reason: str,
    message: str,
    type_: Literal["Normal", "Warning"] = "Normal",
) -> None:
    """Append an event about ``kind``/``object_id`` to the current write transaction."""
    create_event(
        session=session,
        tenant=tenant,
        type=type_,
        reason=reason,
        message=message,
        involved=InvolvedObject(kind=kind, id=object_id, name=name),
    )
