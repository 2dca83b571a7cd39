from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fidela.access.rules import (
    InvalidApiKey,
    MissingScope,
    Principal,
    UnknownScope,
    grants,
    hash_token,
    needs_touch,
    new_token,
    require_scope,
    token_prefix,
    validate_scopes,
    verify_token,
)

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_new_token_has_prefix_and_only_its_hash_is_kept() -> None:
    issued = new_token()
    assert issued.token.startswith(f"fdl_{issued.prefix}_")
    assert token_prefix(issued.token) == issued.prefix
    assert issued.secret_hash == hash_token(issued.token)
    assert issued.token not in issued.secret_hash


def test_tokens_are_unique() -> None:
    assert len({new_token().token for _ in range(200)}) == 200


@pytest.mark.parametrize("token", ["", "abc", "fdl_short_x", "fdl_ABCDEFGH_" + "a" * 40])
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidApiKey):
        token_prefix(token)


def test_verify_token_rejects_wrong_secret_revoked_and_expired_keys_alike() -> None:
    issued = new_token()
    other = new_token()
    verify_token(
        issued.token, stored_hash=issued.secret_hash, revoked_at=None, expires_at=None, now=NOW
    )
    cases = [
        {"stored_hash": other.secret_hash, "revoked_at": None, "expires_at": None},
        {"stored_hash": issued.secret_hash, "revoked_at": NOW, "expires_at": None},
        {"stored_hash": issued.secret_hash, "revoked_at": None, "expires_at": NOW},
    ]
    messages = set()
    for case in cases:
        with pytest.raises(InvalidApiKey) as caught:
            verify_token(issued.token, now=NOW, **case)  # type: ignore[arg-type]
        messages.add(caught.value.detail)
    assert len(messages) == 1  # a caller cannot tell which of the three it was


def test_write_implies_read_and_admin_implies_everything() -> None:
    assert grants(frozenset({"customers:write"}), "customers:read")
    assert not grants(frozenset({"customers:read"}), "customers:write")
    assert not grants(frozenset({"customers:write"}), "events:read")
    assert grants(frozenset({"admin"}), "events:write")


def test_require_scope_raises_missing_scope() -> None:
    principal = Principal(key_id=1, name="pos", scopes=frozenset({"events:write"}))
    require_scope(principal, "events:write")
    with pytest.raises(MissingScope):
        require_scope(principal, "admin")


def test_validate_scopes_sorts_dedupes_and_rejects_unknown_or_empty() -> None:
    assert validate_scopes(["events:write", "admin", "events:write"]) == ["admin", "events:write"]
    with pytest.raises(UnknownScope, match="customers:delete"):
        validate_scopes(["customers:delete"])
    with pytest.raises(UnknownScope):
        validate_scopes([])


def test_last_use_is_recorded_at_most_every_few_minutes() -> None:
    assert needs_touch(None, NOW)
    assert not needs_touch(NOW - timedelta(minutes=1), NOW)
    assert needs_touch(NOW - timedelta(minutes=6), NOW)
