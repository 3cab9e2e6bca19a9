"""Signing in with the one-time link the server prints, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from ..auth import is_signed_in, require_user, sign_in, sign_out
from ..web import render, service_of

router = APIRouter(include_in_schema=False)


@router.get("/signin")
def signin_page(request: Request, token: str = "") -> Response:
    if token and service_of(request).auth.redeem(token):
        sign_in(request)
        # The redirect drops the token from the address bar and the history.
        return RedirectResponse("/", status_code=303)
    if not token and is_signed_in(request):
        return RedirectResponse("/", status_code=303)
    message = "This sign-in link was already used or has expired." if token else None
    return render(request, "signin.html", 401 if token else 200, message=message)


@router.post("/signout", dependencies=[Depends(require_user)])
def signout(request: Request) -> Response:
    sign_out(request)
    return RedirectResponse("/signin", status_code=303)
