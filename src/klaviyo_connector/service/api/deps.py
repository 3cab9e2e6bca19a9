"""API sign-in: a session (with the form token on writes) or the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..actions import ActionError
from ..auth import require_user

_bearer = HTTPBearer(
    auto_error=False,
    description="The token in <data-dir>/api-token; pages use the session cookie.",
)


async def api_user(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    await require_user(request)


def http_error(exc: ActionError) -> HTTPException:
    return HTTPException(exc.status, exc.message)
