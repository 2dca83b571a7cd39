"""Issue API keys for route tests."""

from __future__ import annotations

from fidela.access import service
from fidela.platform.db import Database
from tests.conftest import Clock


def issue(database: Database, clock: Clock, *scopes: str, name: str = "test") -> dict[str, str]:
    with database.write() as session:
        token = service.create_api_key(session, name=name, scopes=list(scopes), now=clock()).token
    return {"Authorization": f"Bearer {token}"}
