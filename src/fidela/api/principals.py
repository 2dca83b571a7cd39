"""A short-lived, per-process memory of verified API keys.

Verifying a key costs a read transaction; on the ingestion path that was as much database
work as storing the event itself. A verified principal is trusted again for
``api_key_cache_seconds`` (monotonic time); expiry dates are still checked against the
request's clock at every use, and a revocation through this process's API forgets the key at
once. A revocation made elsewhere (another process, the CLI) takes effect within the TTL.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from fidela.access.rules import InvalidApiKey, Principal


@dataclass
class PrincipalCache:
    ttl_seconds: float
    max_entries: int = 10_000
    _entries: dict[bytes, tuple[Principal, float]] = field(default_factory=dict)

    @staticmethod
    def _key(token: str) -> bytes:
        # Keyed by digest so the cache never holds a usable secret.
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str, now: datetime) -> Principal | None:
        if self.ttl_seconds <= 0:
            return None
        entry = self._entries.get(self._key(token))
        if entry is None:
            return None
        principal, fresh_until = entry
        if time.monotonic() >= fresh_until:
            self._entries.pop(self._key(token), None)
            return None
        if principal.expires_at is not None and principal.expires_at <= now:
            raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
        return principal

    def put(self, token: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[self._key(token)] = (principal, time.monotonic() + self.ttl_seconds)

    def forget(self, key_id: int) -> None:
        for digest, (principal, _) in list(self._entries.items()):
            if principal.key_id == key_id:
                del self._entries[digest]
