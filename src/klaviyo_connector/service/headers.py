"""Headers every response carries: cookies marked Secure over HTTPS."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseHeaders:
    """Marks cookies Secure when the request came over HTTPS.

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
            if message["type"] == "http.response.start" and https:
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                del headers["set-cookie"]
                for cookie in cookies:
                    secure = "secure" in cookie.lower().split("; ")
                    headers.append(
                        "set-cookie", cookie if secure else cookie + "; Secure"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    del headers["set-cookie"]
    for cookie in cookies:
        secure = "secure" in cookie.lower().split("; ")
        headers.append("set-cookie", cookie if secure else f"{cookie}; Secure")
