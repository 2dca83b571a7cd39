"""Idempotency-Key handling for mutating routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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
    request: Request,
    payload: BaseModel,
    *,
    principal: Principal,
    key: str | None,
    now: datetime,
    operation: Callable[[], tuple[int, Any]],
    stored_body: Callable[[Any], Any] = lambda body: body,
) -> JSONResponse:
    """Run ``operation`` once per Idempotency-Key of the caller: a replay of the same request
    (method, path and JSON body of ``payload``) answers with the first response; the same key
    with another request is a 409."""
    if key is None:
        status, result = operation()
        return JSONResponse(result, status_code=status)
    body = payload.model_dump(mode="json")
    stored = idempotency.run_once(
        session,
        scope=f"api_key:{principal.key_id}",
        key=key,
        fingerprint=fingerprint(request.method, request.url.path, body),
        now=now,
        operation=operation,
        stored_body=stored_body,
    )
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
