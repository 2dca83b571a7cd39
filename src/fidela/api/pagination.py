"""Opaque pagination cursors: URL-safe base64 of a small JSON object."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fidela.kernel.errors import FieldProblem, InvalidInput


class InvalidCursor(InvalidInput):
    code = "cursor_invalid"
    title = "Invalid pagination cursor"


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise InvalidCursor(
            "the cursor is not one this API returned",
            [FieldProblem("/cursor", "use the next_cursor value of the previous page")],
        )
    return value
