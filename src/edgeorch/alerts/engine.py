"""The alert engine: a controller thread that evaluates the rules every ``interval`` seconds.

One pass brings an in-memory mirror of nodes, workloads and instances up to date from the change
feed (``store/mirror.py``: only what changed is read), reads the request totals per
workload over the last ``window`` seconds (one aggregate query: telemetry is not in the change
feed, and other server replicas record it too), re-judges the subjects whose inputs changed
(``alerts/state.py`` over ``alerts/rules.py``), and compares what should fire with what fires in
the store:

- should fire, not firing → a new ``firing`` alert (``started_at`` = now) and an ``AlertFiring``
  Warning event about its subject;
- firing, should not → ``resolved`` (``resolved_at`` = now) and an ``AlertResolved`` event;
- firing and should → its value and summary are refreshed at most every ``REFRESH`` seconds.

Transitions are written in one transaction with their events, then handed to the webhook (if
any) after commit, so a receiver never hears of a transition that was rolled back. A pass with
nothing to change writes nothing.
"""

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from edgeorch.alerts.model import to_alert
from edgeorch.alerts.settings import AlertSettings
from edgeorch.alerts.state import RuleState
from edgeorch.alerts.webhook import WebhookSender
from edgeorch.schemas.event import InvolvedObject
from edgeorch.store import Database, create_event
from edgeorch.store.mirror import FeedMirror
from edgeorch.store.sql.alerts import (
    AlertFiring,
    AlertRecord,
    fire_alert,
    firing_alerts,
    resolve_alert,
    update_firing_alert,
)
from edgeorch.store.sql.telemetry import RequestTotals, request_totals

log = logging.getLogger("edgeorch.alerts")
REFRESH = timedelta(seconds=30)


@dataclass(frozen=True)
class Transition:
    """One alert that started or stopped firing in a pass."""

    state: str
    alert: AlertRecord


class AlertEngine:
    """Evaluates the alert rules over one store; see the module docstring."""

    def __init__(
        self,
        database: Database,
        settings: AlertSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        webhook: WebhookSender | None = None,
        mirror: FeedMirror | None = None,
    ) -> None:
        self.settings = settings or AlertSettings()
        self._database = database
        self._clock = clock or database.clock
        self._mirror = mirror or FeedMirror(database)
        self._seen = -1
        self._state = RuleState()
        if webhook is None and self.settings.webhook_url:
            webhook = WebhookSender(self.settings.webhook_url, self.settings.webhook_allow)
        self.webhook = webhook
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wanted(self, session: Session, now: datetime) -> dict[str, AlertFiring]:
        """Every alert that should be firing now, by fingerprint."""
        since = now - timedelta(seconds=self.settings.window)
        totals = request_totals(session=session, since=since, until=now, by="workload")
        requests: dict[str, RequestTotals] = {}
        for t in totals:  # keyed by (tenant, workload id, name): one entry per id
            requests[t.key[1]] = _merge(requests.get(t.key[1]), t)
        with self._mirror.lock:
            self._mirror.refresh()
            changes = self._mirror.changes_since(self._seen)
            self._seen = self._mirror.revision
            return self._state.update(self._mirror, changes, requests, self.settings)

    def evaluate_once(self) -> list[Transition]:
        """One pass; returns the transitions it made."""
        now = self._clock()
        with self._database.session() as session:
            wanted = self.wanted(session, now)
            firing = firing_alerts(session=session)
        starting = [a for fp, a in sorted(wanted.items()) if fp not in firing]
        ending = [fp for fp in sorted(firing) if fp not in wanted]
        stale = [
            wanted[fp]
            for fp, current in firing.items()
            if fp in wanted
            and wanted[fp].value != current.value
            and now - current.updated_at >= REFRESH
        ]
        if not (starting or ending or stale):
            return []
        transitions: list[Transition] = []
        with self._database.write() as session:
            for alert in starting:
                transitions.append(Transition("firing", self._fire(session, alert, now)))
            for fingerprint in ending:
                resolved = resolve_alert(session=session, fingerprint=fingerprint, at=now)
                if resolved is not None:
                    self._event(session, resolved, "AlertResolved")
                    transitions.append(Transition("resolved", resolved))
            for alert in stale:
                update_firing_alert(
                    session=session,
                    fingerprint=alert.fingerprint,
                    value=alert.value,
                    summary=alert.summary,
                    at=now,
                )
        for transition in transitions:
            log.info("alert %s: %s", transition.state, transition.alert.summary)
            if self.webhook is not None:
                self.webhook.send(webhook_payload(transition))
        return transitions

    def _fire(self, session: Session, alert: AlertFiring, now: datetime) -> AlertRecord:
        fired = fire_alert(session=session, alert=alert, at=now)
        self._event(session, fired, "AlertFiring")
        return fired

    def _event(self, session: Session, alert: AlertRecord, reason: str) -> None:
        verb = "firing" if reason == "AlertFiring" else "resolved"
        create_event(
            session=session,
            tenant=alert.tenant,
            type="Warning" if reason == "AlertFiring" else "Normal",
            reason=reason,
            message=f"{alert.severity} alert {alert.rule} {verb}: {alert.summary}",
            involved=InvolvedObject(
                kind=alert.subject_kind, id=_event_id(alert.subject_id), name=alert.subject_name
            ),
        )

    # -- thread --------------------------------------------------------------------------------

    def start(self) -> None:
        """Evaluate every ``interval`` seconds on a daemon thread."""
        if self.webhook is not None:
            self.webhook.start()
        self._thread = threading.Thread(target=self._loop, name="edgeorch-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (and the webhook's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.webhook is not None:
            self.webhook.stop(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval):
            try:
                self.evaluate_once()
            except Exception:
                log.exception("alert evaluation failed")


def webhook_payload(transition: Transition) -> dict[str, Any]:
    """The JSON a webhook receives for one transition."""
    alert = to_alert(transition.alert).model_dump(mode="json")
    return {
        "reason": "AlertFiring" if transition.state == "firing" else "AlertResolved",
        "status": transition.state,
        "alert": alert,
    }


def _merge(a: RequestTotals | None, b: RequestTotals) -> RequestTotals:
    if a is None:
        return b
    return RequestTotals(
        key=a.key,
        requests=a.requests + b.requests,
        errors=a.errors + b.errors,
        latency_sum_ms=a.latency_sum_ms + b.latency_sum_ms,
        buckets=tuple(x + y for x, y in zip(a.buckets, b.buckets, strict=True)),
    )


def _event_id(subject_id: str) -> str:
    # Event ids are object ids (32 characters); a region's name can be longer.
    if len(subject_id) <= 32:
        return subject_id
    return hashlib.sha256(subject_id.encode()).hexdigest()[:32]
