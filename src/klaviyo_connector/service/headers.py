"""Headers every response carries: a strict CSP, no framing, cookies Secure over
HTTPS."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load only their own scripts, styles and images: no inline script or
# style (the charts' style is a stylesheet too), nothing from another site.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # Swagger UI draws its icons from data: URLs in its stylesheet.
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def csp(**extra: str) -> str:
    """The policy, with sources added to some directives."""
    merged = {k: f"{v} {extra[k]}" if k in extra else v for k, v in CSP.items()}
    return "; ".join(f"{k} {v}" for k, v in merged.items())


def csp_allowing_inline_scripts(page: str) -> str:
    """The policy plus the hashes of this page's own inline scripts."""
    hashes = " ".join(
        "'sha256-"
        + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        + "'"
        for s in _INLINE_SCRIPT.findall(page)
    )
    return csp(**{"script-src": hashes})


class ResponseHeaders:
    """Adds the security headers; marks cookies Secure over HTTPS.

    A response that set its own Content-Security-Policy keeps it.

    The session middleware can only be told once whether every request is
    HTTPS; the same service is often opened over plain http on 127.0.0.1 and
    over HTTPS through a proxy (uvicorn takes the scheme from X-Forwarded-Proto).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp())
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if https:
                    _secure_cookies(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    del headers["set-cookie"]
    for cookie in cookies:
        secure = "secure" in cookie.lower().split("; ")
        headers.append("set-cookie", cookie if secure else f"{cookie}; Secure")
