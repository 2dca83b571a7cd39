"""Errors of the send-time policy."""

from __future__ import annotations

from fidela.kernel.errors import DomainError


class InvalidPolicy(DomainError):
    code = "invalid_send_policy"
    title = "The send policy is not valid"
