"""Errors as RFC 9457 problem details, with a stable ``code``.

The one place where domain error kinds become HTTP statuses. Payload validation errors are
422 and list every offending field as a JSON pointer into the request.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fidela.kernel.errors import DomainError, ErrorKind
from fidela.platform.logging import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://fidela.dev/problems/"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.VALIDATION: 422,
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
}


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(location: tuple[int | str, ...]) -> str:
    # FastAPI prefixes the part of the request ("body", "query", "path", "header").
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "/" + "/".join(parts) if parts else ""


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)  # noqa: S101 - registered for DomainError only
    status = STATUS_BY_KIND[exc.kind]
    headers = {"WWW-Authenticate": 'Bearer realm="fidela"'} if status == 401 else None
    return problem(
        status=status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        errors=[{"pointer": p.pointer, "detail": p.message} for p in exc.problems] or None,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"pointer": _pointer(tuple(error.get("loc", ()))), "detail": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    malformed = any(error.get("type") == "json_invalid" for error in exc.errors())
    return problem(
        status=422,
        code="malformed_json" if malformed else "validation_failed",
        title="Malformed JSON" if malformed else "The request payload is invalid",
        detail="; ".join(f"{e['pointer'] or '/'}: {e['detail']}" for e in errors),
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    phrase = HTTPStatus(exc.status_code).phrase
    return problem(
        status=exc.status_code,
        code=phrase.lower().replace(" ", "_"),
        title=phrase,
        detail=str(exc.detail),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error=repr(exc))
    return problem(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": HTTPStatus(status).phrase,
        "content": {
            PROBLEM_JSON: {
                "example": {
                    "type": PROBLEM_BASE + example_code.replace("_", "-"),
                    "title": HTTPStatus(status).phrase,
                    "status": status,
                    "detail": example_detail,
                    "instance": "/v1/...",
                    "code": example_code,
                }
            }
        },
    }
    for status, example_code, example_detail in (
        (401, "api_key_invalid", "the API key is malformed, unknown, revoked or expired"),
        (403, "scope_missing", "this API key lacks the 'customers:write' scope"),
        (422, "validation_failed", "/email: value is not a valid email address"),
    )
}
