"""The per-process memory of verified API keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fidela.access import service as access
from fidela.access.rules import InvalidApiKey, Principal
from fidela.api.principals import PrincipalCache
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import T0, Clock
from tests.event.builders import order

ALICE = Principal(key_id=1, name="alice", scopes=frozenset({"events:write"}))


def test_a_verified_key_is_remembered_under_its_digest_not_its_text() -> None:
    cache = PrincipalCache(ttl_seconds=60)
    cache.put("fdl_secret", ALICE)
    assert cache.get("fdl_secret", T0) == ALICE
    assert cache.get("fdl_other", T0) is None
    assert all(b"fdl_secret" not in digest for digest in cache._entries)


def test_a_remembered_key_still_expires_on_its_date() -> None:
    cache = PrincipalCache(ttl_seconds=60)
    cache.put("fdl_x", Principal(1, "x", frozenset(), expires_at=T0 + timedelta(minutes=1)))
    assert cache.get("fdl_x", T0) is not None
    with pytest.raises(InvalidApiKey):
        cache.get("fdl_x", T0 + timedelta(minutes=1))


def test_forgetting_a_key_id_drops_every_token_of_it() -> None:
    cache = PrincipalCache(ttl_seconds=60)
    cache.put("fdl_a", ALICE)
    cache.put("fdl_b", Principal(key_id=2, name="bob", scopes=frozenset()))
    cache.forget(1)
    assert cache.get("fdl_a", T0) is None
    assert cache.get("fdl_b", T0) is not None


def test_zero_seconds_remembers_nothing() -> None:
    cache = PrincipalCache(ttl_seconds=0)
    cache.put("fdl_a", ALICE)
    assert cache.get("fdl_a", T0) is None


def test_entries_older_than_the_ttl_are_verified_again() -> None:
    cache = PrincipalCache(ttl_seconds=1e-9)
    cache.put("fdl_a", ALICE)
    assert cache.get("fdl_a", T0) is None


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def expired_entry() -> tuple[PrincipalCache, Ticks]:
    """A cache holding Alice's key, whose 5 s are just up."""
    ticks = Ticks()
    cache = PrincipalCache(ttl_seconds=5, monotonic=ticks)
    cache.put("fdl_a", ALICE)
    ticks.now += 5
    return cache, ticks


def test_when_a_keys_time_is_up_one_caller_verifies_it_and_the_others_keep_it_meanwhile() -> None:
    cache, ticks = expired_entry()
    # The fast path only peeks: it never becomes the verifier, so it goes to the framework.
    assert cache.peek("fdl_a", T0) is None
    assert cache.get("fdl_a", T0) is None  # this caller verifies the key again
    # Meanwhile every other request, on either path, is served as before.
    assert cache.peek("fdl_a", T0) == ALICE
    assert cache.get("fdl_a", T0) == ALICE
    cache.put("fdl_a", ALICE)  # verified: fresh for another TTL
    ticks.now += 4.9
    assert cache.peek("fdl_a", T0) == ALICE


def test_a_verification_that_never_comes_back_is_waited_for_one_more_ttl_at_most() -> None:
    cache, ticks = expired_entry()
    assert cache.get("fdl_a", T0) is None
    ticks.now += 4.9
    assert cache.get("fdl_a", T0) == ALICE
    ticks.now += 0.1
    assert cache.peek("fdl_a", T0) is None
    assert cache.get("fdl_a", T0) is None  # forgotten: the next caller verifies from scratch
    assert cache._entries == {}


def test_a_key_whose_verification_failed_is_dropped_for_everyone() -> None:
    cache, _ = expired_entry()
    assert cache.get("fdl_a", T0) is None
    cache.drop("fdl_a")  # revoked elsewhere, say
    assert cache.peek("fdl_a", T0) is None
    assert cache.get("fdl_a", T0) is None


def test_a_key_revoked_elsewhere_stops_working_for_every_request_once_its_time_is_up(
    client: TestClient, database: Database, clock: Clock
) -> None:
    ticks = Ticks()
    client.app.state.principals = PrincipalCache(ttl_seconds=5, monotonic=ticks)  # type: ignore[attr-defined]
    headers = issue(database, clock, "events:write")
    event = order("T-1", clock(), customer={"email": "ana@example.com"})
    assert client.post("/v1/events", json=event, headers=headers).status_code == 201
    with database.write() as session:  # another process (the CLI) revokes it
        (key,) = access.list_api_keys(session)
        access.revoke_api_key(session, key_id=key.id, now=clock())
    assert client.post("/v1/events", json=event, headers=headers).status_code == 200  # trusted
    ticks.now += 5
    # The first request verifies it again and is refused; the key is dropped for the others.
    assert client.post("/v1/events", json=event, headers=headers).status_code == 401
    assert client.post("/v1/events", json=event, headers=headers).status_code == 401
