"""The token cache's refresh: revocations by another replica leave the cache within a poll,
tokens deleted without a revocation (with their node) within ``RECHECK_SECONDS``, and agents
beating slower than ``CACHE_SECONDS`` stay cached without a look-up per beat."""

import hashlib
from datetime import timedelta

from sqlalchemy import delete, update
from tests.api.conftest import Api
from tests.conftest import FakeClock

from edgeorch.api.auth import (
    CACHE_SECONDS,
    LOOKBACK_SECONDS,
    POLL_SECONDS,
    RECHECK_SECONDS,
    TOUCH_SECONDS,
    TokenCache,
)
from edgeorch.domain.enums import TokenRole
from edgeorch.store import Database, authenticate_token, create_token, list_tokens, revoke_token
from edgeorch.store.sql.orm import TokenRow


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cached(database: Database, cache: TokenCache) -> tuple[str, str]:
    with database.write() as session:
        created = create_token(session=session, role=TokenRole.READER)
    with database.session() as session:
        token = authenticate_token(session=session, secret=created.secret)
    assert token is not None
    key = hashlib.sha256(created.secret.encode()).hexdigest()
    cache.put(key, token)
    return key, token.id


def _revoke_elsewhere(database: Database, token_id: str) -> None:
    with database.write() as session:  # e.g. through another replica: no forget() here
        revoke_token(session=session, ref=token_id)


def test_poll_drops_revoked_tokens_and_vouches_for_the_rest(database: Database) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    kept, _ = _cached(database, cache)
    revoked, revoked_id = _cached(database, cache)
    ticks.now = 1.0
    _revoke_elsewhere(database, revoked_id)
    assert cache.get(revoked) is not None  # nothing has told this cache yet
    cache.refresh(database)
    assert cache.get(revoked) is None  # one poll later, long before CACHE_SECONDS
    ticks.now = 1.0 + CACHE_SECONDS * 0.9  # past the read's CACHE_SECONDS, within the poll's
    assert cache.get(kept) is not None
    ticks.now = 1.0 + CACHE_SECONDS * 1.1  # no poll since: no longer vouched for
    assert cache.get(kept) is None


def test_without_refresh_entries_expire_cache_seconds_after_the_read(database: Database) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    key, _ = _cached(database, cache)
    ticks.now = CACHE_SECONDS * 0.9
    assert cache.get(key) is not None
    ticks.now = CACHE_SECONDS * 1.1
    assert cache.get(key) is None


def test_polls_at_most_every_poll_seconds_and_look_back(
    database: Database, clock: FakeClock
) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    key, token_id = _cached(database, cache)
    late, late_id = _cached(database, cache)
    cache.refresh(database)  # the first poll
    _revoke_elsewhere(database, token_id)
    ticks.now = POLL_SECONDS / 2
    cache.refresh(database)
    assert cache.get(key) is not None  # too soon for another poll
    # A revocation committed after the first poll but stamped before it (a slow transaction,
    # or a replica whose clock runs behind): within LOOKBACK_SECONDS, the next poll sees it.
    with database.write() as session:
        stamp = clock.now - timedelta(seconds=LOOKBACK_SECONDS / 2)
        session.execute(update(TokenRow).where(TokenRow.id == late_id).values(revoked_at=stamp))
    clock.advance(timedelta(seconds=POLL_SECONDS))
    ticks.now = POLL_SECONDS
    cache.refresh(database)
    assert cache.get(key) is None
    assert cache.get(late) is None


def test_recheck_drops_deleted_tokens_and_keeps_used_ones(database: Database) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    used, _ = _cached(database, cache)
    deleted, deleted_id = _cached(database, cache)
    unused, _ = _cached(database, cache)
    with database.write() as session:  # as a node's credentials go when the node is deleted
        session.execute(delete(TokenRow).where(TokenRow.id == deleted_id))
    for second in range(1, int(RECHECK_SECONDS) + 30):
        ticks.now = float(second)
        cache.get(used)
        if second < RECHECK_SECONDS - 15:
            cache.get(deleted)  # still served: nothing revoked it, its row is not re-read yet
        cache.refresh(database, idle=30.0)
    assert cache.get(deleted) is None  # its row was re-read: gone
    assert cache.get(used) is not None  # re-read and kept, past RECHECK_SECONDS
    assert cache.get(unused) is None  # not used for `idle` seconds when it came due


def test_recheck_reads_only_the_entries_due(database: Database) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    first, _ = _cached(database, cache)
    reread: dict[int, int] = {}
    for second in range(1, 2 * int(RECHECK_SECONDS)):
        ticks.now = float(second)
        if second == 20:
            second_key, _ = _cached(database, cache)
        assert cache.get(first) is not None
        if second > 20:
            assert cache.get(second_key) is not None
        kept = cache.refresh(database)
        if kept:
            reread[second] = kept
    due = int(RECHECK_SECONDS) - 10  # each entry's row is re-read at that age, one at a time
    assert reread == {due: 1, 20 + due: 1, 2 * due: 1}


def test_refresh_writes_last_used_at_in_bulk(database: Database, clock: FakeClock) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    key, token_id = _cached(database, cache)
    ticks.now = CACHE_SECONDS / 2
    assert cache.get(key) is not None  # used
    clock.advance(timedelta(seconds=TOUCH_SECONDS + 1))
    ticks.now = RECHECK_SECONDS - 5
    cache.refresh(database)  # its row is due: re-read, and its last use written
    with database.session() as session:
        stored = {t.id: t for t in list_tokens(session=session)}
    assert stored[token_id].last_used_at == clock.now


def test_touches_from_look_ups_are_written_by_the_refresh(
    database: Database, clock: FakeClock
) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    with database.write() as session:
        created = create_token(session=session, role=TokenRole.READER)
    with database.session() as session:
        token = authenticate_token(session=session, secret=created.secret, touch=False)
    assert token is not None and token.last_used_at is None  # the look-up wrote nothing
    cache.put(hashlib.sha256(created.secret.encode()).hexdigest(), token, touch=True)
    cache.refresh(database)
    with database.session() as session:
        stored = {t.id: t for t in list_tokens(session=session)}
    assert stored[token.id].last_used_at == clock.now


def test_the_app_runs_the_refresh_and_writes_last_used_at_by_shutdown(api: Api) -> None:
    with api.database.write() as session:
        created = create_token(session=session, role=TokenRole.READER)
    cache: TokenCache = api.client.app.state.token_cache  # type: ignore[attr-defined]
    assert cache._thread is not None and cache._thread.is_alive()
    assert api.as_token(created.secret).get("/api/v1/edge/nodes").status_code == 200
    cache.stop(api.database)  # what the app's shutdown does
    with api.database.session() as session:
        stored = {t.id: t for t in list_tokens(session=session)}
    assert stored[created.id].last_used_at is not None
