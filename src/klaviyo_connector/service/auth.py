"""Sign-in (one-time links, session cookie, bearer token) and cross-site protection.

Cross-site requests are refused in three layers, none of which needs JavaScript:
the session cookie is SameSite=strict, so a browser never sends it on a request
started by another site; every unsafe request must carry the per-session token
(a hidden form field or the X-CSRF-Token header) that only our own pages hold;
and a request whose Origin, Referer or Sec-Fetch-Site says another site started
it is refused before the token is even looked at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

from fastapi import Request
from sqlalchemy import select

from .crypto import new_token, read_or_create_secret
from .db import Database, SignInLink, utcnow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
BEARER_DOCS = frozenset({"/openapi.json", "/docs"})


class NotSignedIn(Exception):
    """The request carries neither a signed-in session nor the API token."""


class CrossSiteRefused(Exception):
    """An unsafe request that did not come from our own pages."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """Issues and redeems sign-in links; checks the scripting token."""

    def __init__(self, db: Database, data_dir: Path, ttl_seconds: int) -> None:
        self._db = db
        self._ttl = dt.timedelta(seconds=ttl_seconds)
        self.api_token_path = data_dir / "api-token"
        self._api_token = read_or_create_secret(self.api_token_path, new_token)

    def issue_link(self) -> str:
        """A fresh single-use token; older unused links stop working."""
        token = new_token()
        now = utcnow()
        with self._db.session() as s:
            for old in s.scalars(
                select(SignInLink).where(SignInLink.used_at.is_(None))
            ):
                old.used_at = now
            s.add(SignInLink(token_hash=_digest(token), expires_at=now + self._ttl))
        return token

    def redeem(self, token: str) -> bool:
        """True once for a valid, unexpired, unused token."""
        if not token:
            return False
        with self._db.session() as s:
            link = s.scalars(
                select(SignInLink).where(SignInLink.token_hash == _digest(token))
            ).first()
            if link is None or link.used_at is not None or link.expires_at < utcnow():
                return False
            link.used_at = utcnow()
            return True

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return False
        return hmac.compare_digest(value.strip().encode(), self._api_token.encode())


def takes_bearer(path: str) -> bool:
    """The API and its description accept the scripting token; pages do not."""
    return path.startswith("/api/") or path in BEARER_DOCS


def sign_in(request: Request) -> None:
    """Starts a fresh session (never reuses one set before sign-in)."""
    request.session.clear()
    request.session["signed_in"] = True
    request.session[CSRF_FIELD] = new_token()


def is_signed_in(request: Request) -> bool:
    return bool(request.session.get("signed_in"))


def csrf_token(request: Request) -> str:
    return str(request.session.get(CSRF_FIELD, ""))


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def check_same_site(request: Request) -> None:
    """Refuses requests a browser marks as started by another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CrossSiteRefused(f"request started by a {fetch_site} page")
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise CrossSiteRefused("request from another origin")
    referer = request.headers.get("referer")
    if (
        origin is None
        and referer
        and not referer.startswith(_own_origin(request) + "/")
    ):
        raise CrossSiteRefused("request referred by another site")


async def check_csrf(request: Request) -> None:
    check_same_site(request)
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD, ""))
    expected = csrf_token(request)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CrossSiteRefused("missing or wrong form token")


async def require_user(request: Request) -> None:
    """Dependency for every page and API route except sign-in."""
    auth: Auth = request.app.state.service.auth
    if takes_bearer(request.url.path) and auth.bearer_ok(request):
        return
    if not is_signed_in(request):
        raise NotSignedIn()
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
