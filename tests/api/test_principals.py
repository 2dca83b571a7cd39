"""The per-process memory of verified API keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fidela.access.rules import InvalidApiKey, Principal
from fidela.api.principals import PrincipalCache
from tests.conftest import T0

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
