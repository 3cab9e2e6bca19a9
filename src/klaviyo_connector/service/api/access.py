"""API: minting a one-time sign-in link for a browser, for scripts holding the token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..web import service_of
from .deps import api_user
from .schemas import SignInLinkOut

router = APIRouter(prefix="/api", tags=["access"], dependencies=[Depends(api_user)])


@router.post("/signin-links", response_model=SignInLinkOut, status_code=201)
def new_signin_link(request: Request) -> SignInLinkOut:
    """A fresh single-use link; links issued before it stop working."""
    service = service_of(request)
    token = service.auth.issue_link()
    return SignInLinkOut(
        url=service.settings.signin_url(token),
        expires_in_seconds=service.settings.signin_ttl_seconds,
    )
