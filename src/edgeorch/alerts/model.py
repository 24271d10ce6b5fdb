"""The API model of an alert."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from edgeorch.store.sql.alerts import AlertRecord

Severity = Literal["warning", "critical"]
State = Literal["firing", "resolved"]
SEVERITIES: tuple[str, ...] = ("warning", "critical")
STATES: tuple[str, ...] = ("firing", "resolved")


class AlertSubject(BaseModel):
    """What the alert is about."""

    kind: str
    id: str
    name: str


class Alert(BaseModel):
    """One firing episode of an alert; ``value`` is what crossed ``threshold`` (in ``unit``)."""

    id: str
    fingerprint: str
    rule: str
    severity: str
    state: str
    tenant: str
    subject: AlertSubject
    summary: str
    value: float
    threshold: float
    unit: str
    started_at: datetime
    resolved_at: datetime | None
    updated_at: datetime


def to_alert(record: AlertRecord) -> Alert:
    """The API model of a stored alert."""
    return Alert(
        id=record.id,
        fingerprint=record.fingerprint,
        rule=record.rule,
        severity=record.severity,
        state=record.state,
        tenant=record.tenant,
        subject=AlertSubject(
            kind=record.subject_kind, id=record.subject_id, name=record.subject_name
        ),
        summary=record.summary,
        value=record.value,
        threshold=record.threshold,
        unit=record.unit,
        started_at=record.started_at,
        resolved_at=record.resolved_at,
        updated_at=record.updated_at,
    )
