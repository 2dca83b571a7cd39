from __future__ import annotations

from datetime import timedelta

import pytest

from fidela.access import service
from fidela.access.rules import InvalidApiKey, UnknownScope
from fidela.kernel.errors import InvalidInput
from fidela.platform.db import Database
from tests.conftest import Clock


def test_created_key_authenticates_and_carries_its_scopes(database: Database, clock: Clock) -> None:
    with database.write() as session:
        issued = service.create_api_key(
            session, name="pos", scopes=["events:write", "loyalty:read"], now=clock()
        )
    with database.read() as session:
        principal = service.authenticate(session, token=issued.token, now=clock())
        stored = service.get_api_key(session, key_id=issued.key.id)
        assert issued.token not in (stored.secret_hash, stored.prefix)
    assert principal.scopes == {"events:write", "loyalty:read"}


def test_revoked_and_expired_keys_no_longer_authenticate(database: Database, clock: Clock) -> None:
    with database.write() as session:
        revoked = service.create_api_key(session, name="a", scopes=["admin"], now=clock())
        expiring = service.create_api_key(
            session,
            name="b",
            scopes=["admin"],
            now=clock(),
            expires_at=clock() + timedelta(days=1),
        )
        service.revoke_api_key(session, key_id=revoked.key.id, now=clock())
    clock.now += timedelta(days=2)
    with database.read() as session:
        for token in (revoked.token, expiring.token):
            with pytest.raises(InvalidApiKey):
                service.authenticate(session, token=token, now=clock())


def test_bad_names_scopes_and_past_expiry_are_refused(database: Database, clock: Clock) -> None:
    with database.write() as session:
        with pytest.raises(InvalidInput):
            service.create_api_key(session, name="  ", scopes=["admin"], now=clock())
        with pytest.raises(UnknownScope):
            service.create_api_key(session, name="x", scopes=["root"], now=clock())
        with pytest.raises(InvalidInput):
            service.create_api_key(
                session,
                name="x",
                scopes=["admin"],
                now=clock(),
                expires_at=clock() - timedelta(seconds=1),
            )
    with database.read() as session:
        assert service.list_api_keys(session) == []
