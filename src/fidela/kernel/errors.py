"""The base of every domain error.

A domain error is a noun (``InsufficientPoints``, ``RewardOutOfStock``) declared in the
``rules.py`` of its context, with a stable machine ``code`` and a semantic ``kind``. The kind
says what went wrong in business terms; the shells translate it to their medium once
(``api/errors.py`` to an HTTP status, the CLI to an exit code), so no rule knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    VALIDATION = "validation"  # the payload does not match its schema (field pointers given)
    INVALID = "invalid"  # the request is well-formed but breaks a business rule
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # state or concurrency conflict; retrying as-is will not help
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"  # a dependency (database, provider) is not reachable


@dataclass(frozen=True)
class FieldProblem:
    """One offending field: ``pointer`` is a JSON pointer (RFC 6901) into the request."""

    pointer: str
    message: str


@dataclass
class DomainError(Exception):
    """Base class; subclasses set ``code`` and ``kind`` and usually a default ``title``."""

    detail: str
    problems: list[FieldProblem] = field(default_factory=list)

    code: ClassVar[str] = "domain_error"
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    title: ClassVar[str] = "The request breaks a business rule"

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail


class NotFound(DomainError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    kind = ErrorKind.CONFLICT
    title = "Conflict"


class PayloadInvalid(DomainError):
    code = "validation_failed"
    kind = ErrorKind.VALIDATION
    title = "The request payload is invalid"


class InvalidInput(DomainError):
    """A value in the request is not acceptable (422, with pointers to the fields)."""

    code = "invalid_input"
    kind = ErrorKind.VALIDATION
    title = "Invalid input"
