"""``POST /v1/events`` answered without FastAPI's routing and dependency solving.

A single event is the busiest request the API serves (every click, page view and sale), and
FastAPI's per-request machinery (matching the route, solving the four dependencies, reading
the body through a second JSON parser, building the response) cost more CPU than storing the
event in its group transaction. This ASGI layer sits inside the request-id and metrics
middleware and takes the common case itself: a JSON body that validates as an event, sent
with an API key this process verified in the last ``api_key_cache_seconds`` that holds the
``events:write`` scope. It then does exactly what the route does (group commit through
``EventGrouper``) and answers with the same body and status.

Everything else goes to the framework with the body it read handed on unchanged: an unknown,
uncached, expired or under-scoped key, a body that is not JSON or not a valid event, any other
content type. The route in ``fidela.api.routes.events`` stays the one definition of the
endpoint: it documents it in OpenAPI and produces every error answer, so the two paths cannot
disagree about problems. A domain error of the event itself (the catalogue rejected its data,
a return names an unknown order) is rendered by the app's own exception handler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fidela.access.rules import Principal, grants
from fidela.api.grouping import EventGrouper
from fidela.api.middleware import incoming_request_id
from fidela.api.principals import PrincipalCache
from fidela.event.schemas import EventIn
from fidela.kernel.errors import DomainError

PATH = "/v1/events"
SCOPE = "events:write"
JSON = "application/json"
ExceptionHandler = Callable[[Request, Exception], Any]


def route_of(routes: list[BaseRoute]) -> BaseRoute:
    """The framework's ``POST /v1/events`` route among ``routes`` (the events router's)."""
    for route in routes:
        if getattr(route, "path", None) == PATH and "POST" in getattr(route, "methods", ()):
            return route
    raise LookupError(f"no POST {PATH} route to answer for")


class SingleEventPath:
    def __init__(self, app: ASGIApp, api: FastAPI, route: BaseRoute) -> None:
        self.app = app
        self.api = api
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        principal = self._principal(headers)
        if principal is None or not _is_json(headers):
            await self.app(scope, receive, send)
            return
        read = await _read_body(receive)
        if read is None:  # the client went away: no one to answer
            return
        body, more = read
        event = _parse(body) if not more else None
        if event is None:
            await self.app(scope, _replay(body, more, receive), send)
            return
        # The metrics middleware labels requests by their route's template.
        scope["route"] = self.route
        request_id = incoming_request_id(headers)
        grouper: EventGrouper = self.api.state.event_groups
        try:
            result = await grouper.ingest(event, request_id)
        except DomainError as error:
            handled = await self._domain_error_handler(error)(Request(scope), error)
            await handled(scope, receive, send)
            return
        response = Response(
            result.model_dump_json(),
            status_code=200 if result.replayed else 201,
            media_type=JSON,
        )
        await response(scope, receive, send)

    def _principal(self, headers: dict[bytes, bytes]) -> Principal | None:
        """The caller, if this process verified the key recently and it may write events."""
        token = _token(headers)
        if not token:
            return None
        cache: PrincipalCache = self.api.state.principals
        clock: Callable[[], datetime] = self.api.state.clock
        try:
            # Never claims a refresh: a key whose time is up goes to the framework, whose
            # dependency verifies it (one request per key; the others peek meanwhile).
            principal = cache.peek(token, clock())
        except DomainError:  # expired since it was cached: the framework says so
            return None
        if principal is None or not grants(principal.scopes, SCOPE):
            return None
        return principal

    def _domain_error_handler(self, error: DomainError) -> ExceptionHandler:
        handlers: dict[Any, ExceptionHandler] = self.api.exception_handlers
        for kind in type(error).__mro__:
            if kind in handlers:
                return handlers[kind]
        raise error  # no handler: the server error middleware answers 500


def _token(headers: dict[bytes, bytes]) -> str | None:
    # As the route's security dependencies read it: a bearer token first, then X-API-Key.
    authorization = headers.get(b"authorization")
    if authorization:
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials
    key = headers.get(b"x-api-key")
    return key.decode("latin-1") if key else None


def _is_json(headers: dict[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return content_type == b"application/json"


def _parse(body: bytes) -> EventIn | None:
    try:
        return EventIn.model_validate_json(body)
    except ValidationError:
        return None


# A body larger than this is left to the framework (a single event is a few kilobytes).
MAX_BODY = 1 << 20


async def _read_body(receive: Receive) -> tuple[bytes, bool] | None:
    """The request body, and whether more of it is still unread (over ``MAX_BODY``); None
    if the client disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > MAX_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands on what was read, then whatever the client still sends."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replaying
