"""Identifier helpers: opaque random tokens and prefixed public ids."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case, no i/l/o/u


def random_token(length: int) -> str:
    """A random token of ``length`` base32 characters (5 bits of entropy each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
