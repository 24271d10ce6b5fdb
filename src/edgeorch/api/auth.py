"""Bearer-token authentication and role checks.

Every endpoint except ``/healthz`` and ``/readyz`` needs ``Authorization: Bearer <token>``.
Roles (see ``TokenRole``): ``admin`` may do everything; ``operator`` reads and writes objects;
``reader`` only reads; ``join`` and ``node`` tokens are for agents only and are refused here.

A token of the ``default`` tenant with the admin role is a fleet administrator and may act in
any tenant; every other token is confined to its own tenant.

Successful look-ups are cached so that a busy API does not hash-and-query on every request;
revoking a token through this server drops it from the cache at once. Other server replicas
notice a revocation within ``CACHE_SECONDS`` (about a second while agents are connected, see
:class:`TokenCache`), and a token deleted with its node within ``RECHECK_SECONDS``.
"""

import hashlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, update

from edgeorch.api.problems import ApiProblem
from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.schemas.token import Token
from edgeorch.store import Database, authenticate_token
from edgeorch.store.sql.orm import TokenRow

CACHE_SECONDS = 5.0  # an entry is served this long after the store last vouched for it
RECHECK_SECONDS = 60.0  # and never longer than this after its own row was last read
REFRESH_IDLE_SECONDS = 60.0  # TokenCache.refresh keeps tokens used this recently
POLL_SECONDS = 1.0  # TokenCache.refresh looks for revocations at most this often
LOOKBACK_SECONDS = 10.0  # revocations stamped this long before the previous poll are read again
TOUCH_SECONDS = 60.0  # last_used_at of refreshed tokens is written at most this often
_RECHECK_AHEAD = 10.0  # a refresh re-reads rows this long before RECHECK_SECONDS ends
_CHUNK = 500  # ids per IN (...) query
log = logging.getLogger("edgeorch.api")
_READ_ROLES = frozenset({TokenRole.ADMIN, TokenRole.OPERATOR, TokenRole.READER})
_WRITE_ROLES = frozenset({TokenRole.ADMIN, TokenRole.OPERATOR})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role, tenant and, for agents, node."""

    token_id: str
    role: TokenRole
    tenant: str
    node_id: str | None = None

    @property
    def fleet_admin(self) -> bool:
        """True for an admin of the default tenant, who may act in every tenant."""
        return self.role is TokenRole.ADMIN and self.tenant == DEFAULT_TENANT


class _Entry:
    __slots__ = ("stamp", "token", "used")

    def __init__(self, stamp: float, token: Token) -> None:
        self.stamp = stamp  # when the token was last read from the store (cache clock)
        self.used = stamp  # when a request last used it
        self.token = token


class TokenCache:
    """A time-bounded cache of authenticated tokens keyed by the secret's hash.

    Sized for a large fleet (every agent's credential is in it); when full, the oldest entry
    goes. Revocations through this server remove just the tokens they revoke (``forget``),
    so a join storm does not make every other agent re-authenticate against the store.

    An entry is served while the store vouched for it within ``CACHE_SECONDS``, and for at
    most ``RECHECK_SECONDS`` after its row was read. :meth:`refresh`, run every
    ``POLL_SECONDS`` by a thread the app starts (:meth:`start`), vouches for all of them at
    once: it reads the ids of the tokens revoked since its previous poll (one indexed query,
    whatever the fleet's size) and drops those. It also re-reads, in bulk, the rows of
    entries in use that near ``RECHECK_SECONDS``, which catches what leaves no revocation
    behind (a node deleted with its credentials). An agent that beats every 10 s thus costs
    no store look-up per beat, the store reads about ``n / 50`` rows a second for ``n``
    agents (before: every credential every ~3 s, 15 % of the server's CPU at 2,000 agents),
    and a token revoked through another replica leaves this cache within about a second.
    Without the refresh thread entries simply expire ``CACHE_SECONDS`` after they were read.

    A token's ``last_used_at`` is written by the refresh too, in bulk and at most once a
    ``TOUCH_SECONDS``: a look-up in the store does not write (a join storm or 10,000 agents
    reconnecting after a restart would otherwise each take the write lock once more).

    Entries are kept in the order their rows were read, so a refresh only walks the ones due.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, capacity: int = 200_000
    ) -> None:
        self._clock = clock
        self._capacity = capacity
        # Oldest read first: put() and refresh() (re)insert at the end.
        self._entries: dict[str, _Entry] = {}
        self._keys_by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        self._touch: set[str] = set()  # ids whose last_used_at is due for a refresh
        self._touched_at: float | None = None
        self._vouched = -math.inf  # (cache clock) revocations before this have been dropped
        self._polled_at: float | None = None  # cache clock of the last poll
        self._poll_from: datetime | None = None  # store clock: where the next poll starts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, database: Database) -> None:
        """Run :meth:`refresh` every ``POLL_SECONDS`` in a thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(database,), name="token-cache", daemon=True
        )
        self._thread.start()

    def stop(self, database: Database) -> None:
        """Stop the thread and write the ``last_used_at`` still owed."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(10)
        self._touched_at = None
        try:
            self._maybe_touch(database, self._clock())
        except Exception:
            log.exception("token cache: writing last_used_at at shutdown failed")

    def _run(self, database: Database) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.refresh(database)
            except Exception:
                log.exception("token cache: refreshing from the store failed")

    def get(self, key: str) -> Token | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            now = self._clock()
            if (
                now - max(entry.stamp, self._vouched) > CACHE_SECONDS
                or now - entry.stamp > RECHECK_SECONDS
            ):
                self._drop(key)
                return None
            entry.used = now
            return entry.token

    def put(self, key: str, token: Token, *, touch: bool = False) -> None:
        """Cache ``token``, just read from the store; ``touch``: its ``last_used_at`` is due
        (written by the next refresh that writes any)."""
        with self._lock:
            self._drop(key)
            while len(self._entries) >= self._capacity:
                self._drop(next(iter(self._entries)))
            self._entries[key] = _Entry(self._clock(), token)
            self._keys_by_token[token.id] = key
            if touch:
                self._touch.add(token.id)

    def forget(self, token_ids: Collection[str]) -> None:
        """Drop the tokens with these ids (they were just revoked)."""
        with self._lock:
            for token_id in token_ids:
                key = self._keys_by_token.get(token_id)
                if key is not None:
                    self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._keys_by_token.clear()

    def refresh(self, database: Database, *, idle: float = REFRESH_IDLE_SECONDS) -> int:
        """Drop the tokens revoked since the last poll (at most one poll per ``POLL_SECONDS``),
        then re-read the entries used in the last ``idle`` seconds whose row was read more than
        ``RECHECK_SECONDS - _RECHECK_AHEAD`` seconds ago: still-active ones are kept, revoked,
        expired and deleted ones dropped; entries not used for ``idle`` seconds are dropped
        when due. Also refreshes the tokens' ``last_used_at`` in the store, at most every
        ``TOUCH_SECONDS``. Returns the count of entries re-read and kept."""
        start = self._clock()
        self._poll(database, start)
        due: list[tuple[str, _Entry]] = []
        unused: list[str] = []
        with self._lock:
            for key, entry in self._entries.items():
                if start - entry.stamp < RECHECK_SECONDS - _RECHECK_AHEAD:
                    break  # the rest were read more recently
                if start - entry.used <= idle:
                    due.append((key, entry))
                else:
                    unused.append(key)
            for key in unused:
                self._drop(key)
        if not due:
            self._maybe_touch(database, start)
            return 0
        by_id = {entry.token.id: (key, entry) for key, entry in due}
        ids = sorted(by_id)
        state: dict[str, tuple[datetime | None, datetime | None, datetime | None]] = {}
        with database.session() as session:
            for first in range(0, len(ids), _CHUNK):
                rows = session.execute(
                    select(
                        TokenRow.id, TokenRow.revoked_at, TokenRow.expires_at, TokenRow.last_used_at
                    ).where(TokenRow.id.in_(ids[first : first + _CHUNK]))
                )
                state.update((row[0], (row[1], row[2], row[3])) for row in rows)
        moment = database.clock()
        kept = 0
        with self._lock:
            for token_id, (key, entry) in by_id.items():
                if self._entries.get(key) is not entry:
                    continue  # forgotten or replaced meanwhile
                found = state.get(token_id)
                if found is None or found[0] is not None or (found[1] and found[1] <= moment):
                    self._drop(key)
                    continue
                entry.stamp = start
                self._entries[key] = self._entries.pop(key)  # now the most recently read
                kept += 1
                if touch_due(found[2], moment):
                    self._touch.add(token_id)
        self._maybe_touch(database, start)
        return kept

    def _poll(self, database: Database, start: float) -> None:
        """Drop the tokens revoked since the previous poll (by their store timestamp, read
        again from ``LOOKBACK_SECONDS`` before it, for commits that landed late or another
        replica's clock running behind); then every entry read before ``start`` is vouched
        for. The first poll looks back ``RECHECK_SECONDS`` further, over any entry's age."""
        if self._polled_at is not None and start - self._polled_at < POLL_SECONDS:
            return
        moment = database.clock()
        since = self._poll_from
        if since is None:
            since = moment - timedelta(seconds=RECHECK_SECONDS + LOOKBACK_SECONDS)
        with database.session() as session:
            revoked = session.scalars(select(TokenRow.id).where(TokenRow.revoked_at >= since))
            ids = list(revoked)
        with self._lock:
            for token_id in ids:
                key = self._keys_by_token.get(token_id)
                if key is not None:
                    self._drop(key)
            self._vouched = start
        self._polled_at = start
        self._poll_from = moment - timedelta(seconds=LOOKBACK_SECONDS)

    def _maybe_touch(self, database: Database, now: float) -> None:
        with self._lock:
            if not self._touch or (
                self._touched_at is not None and now - self._touched_at < TOUCH_SECONDS
            ):
                return
            ids, self._touch = sorted(self._touch), set()
            self._touched_at = now
        moment = database.clock()
        with database.write() as session:
            for first in range(0, len(ids), _CHUNK):
                session.execute(
                    update(TokenRow)
                    .where(TokenRow.id.in_(ids[first : first + _CHUNK]))
                    .values(last_used_at=moment)
                )

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._keys_by_token.pop(entry.token.id, None)


def touch_due(last_used: datetime | None, now: datetime) -> bool:
    """Whether a token last used at ``last_used`` should have that time written again."""
    return last_used is None or (now - last_used).total_seconds() >= TOUCH_SECONDS


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="edgeorch"'}
    )


async def get_database(request: Request) -> Database:
    """The app's database (an ``async`` dependency: resolved on the event loop, no thread)."""
    return _database(request)


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _bearer(request: Request) -> tuple[str, str]:
    """The bearer secret of the request and its cache key, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise _unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    secret = secret.strip()
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def _principal(request: Request, token: Token) -> Principal:
    now = request.app.state.clock()
    if token.expires_at is not None and token.expires_at <= now:
        raise _unauthorized("the token is unknown, expired or revoked")
    return Principal(token.id, token.role, token.tenant, token.node_id)


def cached_principal(request: Request) -> Principal | None:
    """The principal of a token in the cache (no store access), None when it must be looked
    up, or 401 for a malformed header or an expired token."""
    _, key = _bearer(request)
    cache: TokenCache = request.app.state.token_cache
    token = cache.get(key)
    return None if token is None else _principal(request, token)


def authenticate(request: Request) -> Principal:
    """Resolve the bearer token to a principal, or answer 401."""
    secret, key = _bearer(request)
    cache: TokenCache = request.app.state.token_cache
    token = cache.get(key)
    if token is None:
        database = _database(request)
        with database.session() as session:  # a read only: the cache writes last_used_at
            token = authenticate_token(session=session, secret=secret, touch=False)
        if token is None:
            raise _unauthorized("the token is unknown, expired or revoked")
        cache.put(key, token, touch=touch_due(token.last_used_at, request.app.state.clock()))
    return _principal(request, token)


async def authenticate_async(request: Request) -> Principal:
    """:func:`authenticate` for ``async`` routes: a cached token is resolved on the event
    loop; only a look-up in the store goes to a worker thread."""
    principal = cached_principal(request)
    if principal is None:
        principal = await run_in_threadpool(authenticate, request)
    return principal


@dataclass(frozen=True)
class Access:
    """The roles an action needs, and the action in words (for the 403)."""

    roles: frozenset[TokenRole]
    what: str

    def check(self, principal: Principal) -> Principal:
        """``principal`` if its role may do this, else a 403 problem."""
        if principal.role not in self.roles:
            accepted = ", ".join(sorted(r.value for r in self.roles))
            raise ApiProblem(
                403,
                "Forbidden",
                f"a {principal.role.value} token may not {self.what}; this needs one of: "
                f"{accepted}",
            )
        return principal


READ = Access(_READ_ROLES, "read objects")
WRITE = Access(_WRITE_ROLES, "change objects")
ADMIN = Access(frozenset({TokenRole.ADMIN}), "manage tokens and tenants")


async def authorize(request: Request, access: Access) -> Principal:
    """Authenticate the request and check its role, outside FastAPI's dependency solving (the
    hand-served routes: ``routes/nodes.py``)."""
    return access.check(await authenticate_async(request))


def _require(access: Access) -> Callable[..., Awaitable[Principal]]:
    # ``async`` on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, one
    # hand-over of the GIL each way per dependency and request; a cached token costs none.
    async def dependency(principal: Principal = Depends(authenticate_async)) -> Principal:
        return access.check(principal)

    return dependency


require_read = _require(READ)
require_write = _require(WRITE)
require_admin = _require(ADMIN)


def tenant_for_read(principal: Principal, requested: str | None) -> str | None:
    """The tenant a read is confined to; None means every tenant (fleet admins only)."""
    if principal.fleet_admin:
        return requested
    if requested is not None and requested != principal.tenant:
        raise ApiProblem(
            403,
            "Forbidden",
            f"this token belongs to tenant {principal.tenant!r} and may not read tenant "
            f"{requested!r}",
        )
    return principal.tenant


def tenant_for_write(principal: Principal, requested: str | None) -> str:
    """The tenant a write goes to: the requested one if allowed, else the token's own."""
    if requested is None:
        return DEFAULT_TENANT if principal.fleet_admin else principal.tenant
    if principal.fleet_admin or requested == principal.tenant:
        return requested
    raise ApiProblem(
        403,
        "Forbidden",
        f"this token belongs to tenant {principal.tenant!r} and may not write to tenant "
        f"{requested!r}",
    )
