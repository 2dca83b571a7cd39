"""A pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path) that
gives every request an id, binds it to the logs, and records Prometheus metrics by route
template rather than raw path (raw paths would explode the label cardinality)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fidela.kernel.ids import random_token
from fidela.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_MAX = 100


def incoming_request_id(headers: dict[bytes, bytes]) -> str | None:
    """The caller's ``X-Request-ID`` (raw ASGI headers), cut to the length the event table keeps."""
    value = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")[:REQUEST_ID_MAX]
    return value or None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = incoming_request_id(headers) or random_token(16)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
                response_headers: list[Any] = list(message.get("headers", []))
                response_headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message["headers"] = response_headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(template, method, str(status_holder["status"])).inc()
            HTTP_LATENCY.labels(template, method).observe(time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")
