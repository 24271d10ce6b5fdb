"""Alert repository: one row per firing episode of an alert.

An alert is identified by its ``fingerprint`` (rule + subject). While the condition holds there is
exactly one row with that fingerprint in state ``firing``; when it stops holding the row becomes
``resolved`` with ``resolved_at`` set, and a later recurrence opens a new row. Rows are listed
newest first by ``seq``.

Invariants: at most one ``firing`` row per fingerprint (:func:`fire_alert` refuses a second);
resolved rows are never reopened.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Float, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from edgeorch.store.errors import Conflict
from edgeorch.store.pagination import Page, decode_token, encode_token
from edgeorch.store.sql import objects
from edgeorch.store.sql.changes import current_revision
from edgeorch.store.sql.orm import ID_LENGTH, NAME_LENGTH, Base
from edgeorch.store.sql.types import BigIntPK

KIND = "Alert"
FIRING = "firing"
RESOLVED = "resolved"


class AlertRow(Base):
    """One firing episode of one alert."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state", "state", "seq"),
        Index("ix_alerts_fingerprint", "fingerprint", "state"),
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(512))
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(NAME_LENGTH))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    subject_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


@dataclass(frozen=True)
class AlertRecord:
    """An alert as stored."""

    id: str
    fingerprint: str
    rule: str
    severity: str
    state: str
    tenant: str
    subject_kind: str
    subject_id: str
    subject_name: str
    summary: str
    value: float
    threshold: float
    unit: str
    started_at: datetime
    resolved_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class AlertFiring:
    """What a rule found: the input of :func:`fire_alert`."""

    fingerprint: str
    rule: str
    severity: str
    tenant: str
    subject_kind: str
    subject_id: str
    subject_name: str
    summary: str
    value: float
    threshold: float
    unit: str


def to_record(row: AlertRow) -> AlertRecord:
    """The stored alert of a row."""
    return AlertRecord(
        id=row.id,
        fingerprint=row.fingerprint,
        rule=row.rule,
        severity=row.severity,
        state=row.state,
        tenant=row.tenant,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        subject_name=row.subject_name,
        summary=row.summary,
        value=row.value,
        threshold=row.threshold,
        unit=row.unit,
        started_at=row.started_at,
        resolved_at=row.resolved_at,
        updated_at=row.updated_at,
    )


def firing_alerts(*, session: Session) -> dict[str, AlertRecord]:
    """Every firing alert, by fingerprint."""
    rows = session.scalars(select(AlertRow).where(AlertRow.state == FIRING))
    return {row.fingerprint: to_record(row) for row in rows}


def fire_alert(*, session: Session, alert: AlertFiring, at: datetime) -> AlertRecord:
    """Open a firing episode of ``alert.fingerprint``; a Conflict if one is already firing."""
    existing = session.scalar(
        select(AlertRow.id).where(
            AlertRow.fingerprint == alert.fingerprint, AlertRow.state == FIRING
        )
    )
    if existing is not None:
        raise Conflict(f"alert {alert.fingerprint!r} is already firing (alert {existing})")
    row = AlertRow(
        id=objects.new_id(),
        state=FIRING,
        started_at=at,
        resolved_at=None,
        updated_at=at,
        **alert.__dict__,
    )
    session.add(row)
    session.flush()
    return to_record(row)


def update_firing_alert(
    *, session: Session, fingerprint: str, value: float, summary: str, at: datetime
) -> AlertRecord | None:
    """Refresh the value and summary of a firing alert; None when it is not firing."""
    row = _firing_row(session, fingerprint)
    if row is None:
        return None
    row.value, row.summary, row.updated_at = value, summary, at
    session.flush()
    return to_record(row)


def resolve_alert(*, session: Session, fingerprint: str, at: datetime) -> AlertRecord | None:
    """Close the firing episode of ``fingerprint``; None when it is not firing."""
    row = _firing_row(session, fingerprint)
    if row is None:
        return None
    row.state, row.resolved_at, row.updated_at = RESOLVED, at, at
    session.flush()
    return to_record(row)


def _firing_row(session: Session, fingerprint: str) -> AlertRow | None:
    return session.scalar(
        select(AlertRow).where(AlertRow.fingerprint == fingerprint, AlertRow.state == FIRING)
    )


def list_alerts(
    *,
    session: Session,
    tenant: str | None = None,
    state: str | None = None,
    severity: str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[AlertRecord]:
    """A page of alerts, newest first; filters by tenant, state and severity."""
    objects.check_limit(limit)
    revision = current_revision(session=session)
    where: list[ColumnElement[bool]] = []
    if tenant is not None:
        where.append(AlertRow.tenant == tenant)
    if state is not None:
        where.append(AlertRow.state == state)
    if severity is not None:
        where.append(AlertRow.severity == severity)
    if continue_token is not None:
        (after,) = decode_token(continue_token, KIND, (int,))
        where.append(AlertRow.seq < after)
    query = select(AlertRow).where(*where).order_by(AlertRow.seq.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    token = encode_token(KIND, (rows[limit - 1].seq,)) if len(rows) > limit else None
    return Page(items=[to_record(r) for r in rows[:limit]], continue_token=token, revision=revision)
