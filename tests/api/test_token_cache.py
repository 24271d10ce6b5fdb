"""The token cache's bulk refresh: agents beating slower than the cache lifetime stay cached,
revocations by another replica still leave the cache within ``CACHE_SECONDS``."""

import hashlib
from datetime import timedelta

from tests.conftest import FakeClock

from edgeorch.api.auth import CACHE_SECONDS, TOUCH_SECONDS, TokenCache
from edgeorch.domain.enums import TokenRole
from edgeorch.store import Database, authenticate_token, create_token, list_tokens, revoke_token


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


def test_refresh_keeps_used_active_tokens_and_drops_revoked_ones(database: Database) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    kept, _ = _cached(database, cache)
    revoked, revoked_id = _cached(database, cache)
    idle, _ = _cached(database, cache)
    ticks.now = CACHE_SECONDS * 0.6
    assert cache.get(kept) is not None and cache.get(revoked) is not None
    with database.write() as session:
        revoke_token(session=session, ref=revoked_id)  # e.g. through another replica
    assert cache.refresh(database, idle=CACHE_SECONDS * 0.5) == 1
    ticks.now = CACHE_SECONDS * 1.5  # past the first read's lifetime, within the refresh's
    assert cache.get(kept) is not None
    assert cache.get(revoked) is None
    assert cache.get(idle) is None  # not used since it was cached: not refreshed, expired


def test_refresh_writes_last_used_at_in_bulk(database: Database, clock: FakeClock) -> None:
    ticks = Ticks()
    cache = TokenCache(ticks)
    key, token_id = _cached(database, cache)
    ticks.now = CACHE_SECONDS * 0.6
    cache.get(key)
    clock.advance(timedelta(seconds=TOUCH_SECONDS + 1))
    cache.refresh(database)
    with database.session() as session:
        stored = {t.id: t for t in list_tokens(session=session)}
    assert stored[token_id].last_used_at == clock.now
