"""Idempotency-Key handling for mutating routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from fidela.access.rules import Principal
from fidela.platform.idempotency import service as idempotency
from fidela.platform.idempotency.rules import fingerprint

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes the call safe to retry: the first response is returned for every "
        "replay with the same key; the same key with a different body is a 409.",
    ),
]


def respond_once(
    session: Session,
    *,
    principal: Principal,
    key: str | None,
    method: str,
    path: str,
    body: Any,
    now: datetime,
    operation: Callable[[], tuple[int, Any]],
    stored_body: Callable[[Any], Any] = lambda body: body,
) -> JSONResponse:
    if key is None:
        status, result = operation()
        return JSONResponse(result, status_code=status)
    stored = idempotency.run_once(
        session,
        scope=f"api_key:{principal.key_id}",
        key=key,
        fingerprint=fingerprint(method, path, body),
        now=now,
        operation=operation,
        stored_body=stored_body,
    )
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
