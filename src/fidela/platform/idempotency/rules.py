"""Idempotency keys.

- A key is scoped to the API key that used it, so two integrations cannot collide.
- The fingerprint is the SHA-256 of method, path and the canonical JSON body: the same key
  with a different request is ``IdempotencyKeyReused`` (409), never a silent replay of the
  wrong answer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fidela.kernel.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class InvalidIdempotencyKey(InvalidInput):
    code = "idempotency_key_invalid"
    title = "Invalid Idempotency-Key header"


def validate_key(key: str) -> str:
    clean = key.strip()
    if not clean or len(clean) > MAX_KEY_LENGTH or not clean.isprintable():
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters"
        )
    return clean


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()
