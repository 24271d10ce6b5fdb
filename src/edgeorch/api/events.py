"""Recording events for the API's own writes, in the same transaction as the write."""

from typing import Literal, Protocol

from sqlalchemy.orm import Session

from edgeorch.schemas.envelope import Metadata
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


class Enveloped(Protocol):
    """Any API object: it has a kind and metadata."""

    @property
    def kind(self) -> str: ...

    @property
    def metadata(self) -> Metadata: ...


def record_about(
    session: Session,
    obj: Enveloped,
    *,
    reason: str,
    message: str,
    type_: Literal["Normal", "Warning"] = "Normal",
) -> None:
    """Append an event about ``obj`` (its kind, id, name and tenant) to the transaction."""
    record(
        session,
        tenant=obj.metadata.tenant,
        kind=obj.kind,
        object_id=obj.metadata.id,
        name=obj.metadata.name,
        reason=reason,
        message=message,
        type_=type_,
    )
