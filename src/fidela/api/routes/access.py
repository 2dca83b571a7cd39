"""API key administration (scope ``admin``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from fidela.access import service
from fidela.access.rules import ADMIN, KNOWN_SCOPES, Principal
from fidela.access.schemas import ApiKey, ApiKeyCreate, ApiKeyIssued
from fidela.api.deps import DatabaseDep, NowDep, PrincipalDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.idempotent import IdempotencyKeyHeader, respond_once

router = APIRouter(prefix="/v1/api-keys", tags=["API keys"], responses=PROBLEM_RESPONSES)
AdminDep = Annotated[Principal, Depends(scoped(ADMIN))]


@router.get("/current", response_model=ApiKey, summary="The API key making this request")
def current_key(principal: PrincipalDep, database: DatabaseDep) -> ApiKey:
    with database.read() as session:
        return ApiKey.model_validate(service.get_api_key(session, key_id=principal.key_id))


@router.get("/scopes", summary="Every scope an API key can be given")
def list_scopes(_: PrincipalDep) -> dict[str, list[str]]:
    return {"scopes": sorted(KNOWN_SCOPES)}


@router.get("", response_model=list[ApiKey], summary="List API keys")
def list_keys(_: AdminDep, database: DatabaseDep, include_revoked: bool = False) -> list[ApiKey]:
    with database.read() as session:
        keys = service.list_api_keys(session, include_revoked=include_revoked)
        return [ApiKey.model_validate(key) for key in keys]


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyIssued,
    summary="Issue an API key",
    description="The secret `token` is in this response only; store it now.",
)
def create_key(
    payload: ApiKeyCreate,
    request: Request,
    _: AdminDep,
    principal: PrincipalDep,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    with database.write() as session:

        def issue() -> tuple[int, Any]:
            issued = service.create_api_key(
                session,
                name=payload.name,
                scopes=payload.scopes,
                now=now,
                expires_at=payload.expires_at,
            )
            body = ApiKeyIssued.model_validate(
                {**ApiKey.model_validate(issued.key).model_dump(), "token": issued.token}
            )
            return 201, body.model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=issue,
            # The secret is never stored: a replay answers with token null.
            stored_body=lambda body: {**body, "token": None},
        )


@router.delete("/{key_id}", response_model=ApiKey, summary="Revoke an API key")
def revoke_key(
    key_id: int, request: Request, _: AdminDep, database: DatabaseDep, now: NowDep
) -> ApiKey:
    with database.write() as session:
        revoked = ApiKey.model_validate(service.revoke_api_key(session, key_id=key_id, now=now))
    request.app.state.principals.forget(key_id)
    return revoked
