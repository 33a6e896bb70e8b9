"""What the archive server lets in (an ASGI middleware around the app).

- Without a token, the Host header must name this server (a loopback name, or the address it was bound to): a page
  elsewhere cannot reach it through a DNS name that points to 127.0.0.1 (DNS rebinding). With a token any name
  will do (a LAN name for the machine): such a page has no token.
- With a token (required for any host but loopback), every request carries it: the ``token`` query parameter of
  the first URL (answered with a cookie, SameSite=Strict, and a redirect without it), then that cookie, or an
  ``X-Podscribe-Token`` header.
- A request that changes something (POST, PUT, PATCH, DELETE) must come from the archive's own pages: its Origin
  (or, without one, its Referer) is this server.
Every refusal is a 4xx with one line of plain text.
"""
from __future__ import annotations

import hmac
import ipaddress
from http.cookies import SimpleCookie
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit

COOKIE = "podscribe_token"
HEADER = b"x-podscribe-token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self, app, bound_host: str, token: Optional[str]):
        self.app, self.token = app, token
        self.any_host = bool(token)  # any host but loopback always has one
        self.hosts = LOOPBACK_NAMES | {bound_host.strip("[]")}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self._host_ok(host):
            return await _refuse(send, 421, f"this server does not answer for host {host!r}")
        if self.token:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if "token" in query and scope["method"] == "GET":
                if not hmac.compare_digest(query["token"], self.token):
                    return await _refuse(send, 401, "wrong token")
                return await _redirect_with_cookie(send, scope, query, self.token)
            if not self._token_ok(headers):
                return await _refuse(send, 401, "a token is needed: open the URL `podscribe serve` printed")
        if scope["method"] in UNSAFE and not _same_origin(headers, host):
            return await _refuse(send, 403, "refused: this request does not come from the archive's own pages")
        return await self.app(scope, receive, send)

    def _host_ok(self, host: str) -> bool:
        if self.any_host:
            return bool(host)
        name = urlsplit(f"//{host}").hostname or ""
        return name in self.hosts

    def _token_ok(self, headers: dict) -> bool:
        given = headers.get(HEADER.decode(), "")
        if not given and "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # a malformed cookie header is no token
                return False
            given = cookie[COOKIE].value if COOKIE in cookie else ""
        return bool(given) and hmac.compare_digest(given, self.token)


def _same_origin(headers: dict, host: str) -> bool:
    origin = headers.get("origin") or headers.get("referer", "")
    if not origin or origin == "null":
        return False
    return urlsplit(origin).netloc == host


async def _refuse(send, status: int, line: str) -> None:
    body = (line + "\n").encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send, scope, query: dict, token: str) -> None:
    rest = urlencode({k: v for k, v in query.items() if k != "token"})
    location = (scope.get("raw_path") or b"/") + (f"?{rest}".encode("latin-1") if rest else b"")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location), (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
