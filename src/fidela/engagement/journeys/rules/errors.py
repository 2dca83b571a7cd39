"""Errors of the journeys."""

from __future__ import annotations

from fidela.kernel.errors import Conflict, DomainError, ErrorKind, NotFound


class InvalidJourney(DomainError):
    code = "invalid_journey"
    kind = ErrorKind.VALIDATION
    title = "The journey definition is not valid"


class JourneyNotFound(NotFound):
    code = "journey_not_found"
    title = "No such journey"


class JourneyVersionConflict(Conflict):
    code = "journey_version_conflict"
    title = "The journey changed since it was read"


class JourneyLoop(DomainError):
    code = "journey_loop"
    title = "The journey ran too many steps without waiting"
