"""A short-lived, per-process memory of verified API keys.

Verifying a key costs a read transaction; on the ingestion path that was as much database
work as storing the event itself. A verified principal is trusted again for
``api_key_cache_seconds`` (monotonic time); expiry dates are still checked against the
request's clock at every use, and a revocation through this process's API forgets the key at
once. A revocation made elsewhere (another process, the CLI) takes effect within the TTL, plus
the few milliseconds one verification takes.

When an entry's time is up, one request verifies the key again; the others keep the
principal meanwhile (``refreshing``). Before, every request arriving during that
verification found the key unknown and verified it too: every 5 s each server process took
dozens of requests off the single-event fast path at once, each waiting for a pooled
connection, and those requests answered 80-140 ms late (the open-loop bench's p99). A
refresh that never completes (its request failed) is trusted no longer than one more TTL.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fidela.access.rules import InvalidApiKey, Principal


@dataclass
class _Entry:
    principal: Principal
    fresh_until: float  # monotonic
    refreshing: bool = False


@dataclass
class PrincipalCache:
    ttl_seconds: float
    max_entries: int = 10_000
    monotonic: Callable[[], float] = time.monotonic
    _entries: dict[bytes, _Entry] = field(default_factory=dict)

    @staticmethod
    def _key(token: str) -> bytes:
        # Keyed by digest so the cache never holds a usable secret.
        return hashlib.sha256(token.encode()).digest()

    def peek(self, token: str, now: datetime) -> Principal | None:
        """The principal, if it may be trusted without verifying the key (fresh, or being
        verified again by another request); None otherwise. Changes nothing."""
        return self._lookup(token, now, claim=False)

    def get(self, token: str, now: datetime) -> Principal | None:
        """As ``peek``, but None for a key whose time is up also makes this caller the one
        that verifies it again (and ``put``s or ``drop``s it): until then, the others
        ``peek`` and ``get`` the principal they had."""
        return self._lookup(token, now, claim=True)

    def _lookup(self, token: str, now: datetime, *, claim: bool) -> Principal | None:
        if self.ttl_seconds <= 0:
            return None
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        clock = self.monotonic()
        if clock >= entry.fresh_until:
            if not entry.refreshing:
                if claim:
                    entry.refreshing = True
                return None
            if clock >= entry.fresh_until + self.ttl_seconds:  # its verifier never came back
                self._entries.pop(key, None)
                return None
        principal = entry.principal
        if principal.expires_at is not None and principal.expires_at <= now:
            raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
        return principal

    def put(self, token: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[self._key(token)] = _Entry(principal, self.monotonic() + self.ttl_seconds)

    def drop(self, token: str) -> None:
        """Forget a token (its verification failed: revoked, expired or unknown now)."""
        self._entries.pop(self._key(token), None)

    def forget(self, key_id: int) -> None:
        for digest, entry in list(self._entries.items()):
            if entry.principal.key_id == key_id:
                del self._entries[digest]
