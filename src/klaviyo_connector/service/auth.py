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
from sqlalchemy import delete, select

from .crypto import new_token, read_or_create_secret
from .db import BrowserSession, Database, SignInLink, utcnow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
SESSION_ID = "session_id"
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

    def __init__(
        self, db: Database, data_dir: Path, ttl_seconds: int, session_seconds: int
    ) -> None:
        self._db = db
        self._ttl = dt.timedelta(seconds=ttl_seconds)
        self._session_age = dt.timedelta(seconds=session_seconds)
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

    def open_session(self) -> str:
        """A new browser session's id; sessions past their age are dropped."""
        session_id = new_token()
        with self._db.session() as s:
            s.execute(
                delete(BrowserSession).where(
                    BrowserSession.created_at < utcnow() - self._session_age
                )
            )
            s.add(BrowserSession(id_hash=_digest(session_id)))
        return session_id

    def session_open(self, session_id: str) -> bool:
        if not session_id:
            return False
        with self._db.session() as s:
            found = s.get(BrowserSession, _digest(session_id))
            return found is not None and utcnow() - found.created_at < self._session_age

    def close_session(self, session_id: str) -> None:
        with self._db.session() as s:
            s.execute(
                delete(BrowserSession).where(
                    BrowserSession.id_hash == _digest(session_id)
                )
            )

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return False
        return hmac.compare_digest(value.strip().encode(), self._api_token.encode())


def takes_bearer(path: str) -> bool:
    """The API and its description accept the scripting token; pages do not."""
    return path.startswith("/api/") or path in BEARER_DOCS


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.service.auth
    return auth


def sign_in(request: Request) -> None:
    """Starts a fresh session (never reuses one set before sign-in)."""
    request.session.clear()
    request.session[SESSION_ID] = _auth(request).open_session()
    request.session[CSRF_FIELD] = new_token()


def sign_out(request: Request) -> None:
    """Ends the session on the server too: a copy of the cookie stops working."""
    _auth(request).close_session(str(request.session.get(SESSION_ID, "")))
    request.session.clear()


def is_signed_in(request: Request) -> bool:
    session_id = str(request.session.get(SESSION_ID, ""))
    return _auth(request).session_open(session_id)


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
    if takes_bearer(request.url.path) and _auth(request).bearer_ok(request):
        return
    if not is_signed_in(request):
        raise NotSignedIn()
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
