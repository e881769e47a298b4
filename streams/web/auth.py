"""Sign-in and roles on the worker's HTTP endpoints (every one but ``/health``, ``/ready``
and ``/metrics``).

Tokens come from settings, hashed at rest: ``RAPPORT_WEB_TOKENS`` is a comma-separated
list of ``role:sha256(token)`` (``rapport token --role R`` makes a token and its entry).
A request sends ``Authorization: Bearer <token>``; the token's SHA-256 is looked up (in
constant time) and its role must be one of the path's:

- ``agent``: ``/console`` (the support console), ``/customers/...`` (features),
  ``/conversations/...`` and ``/drafts/...``;
- ``analyst``: ``/sql`` and ``/customers/...``;
- ``ops``: ``/debug/...`` and everything else a worker serves (Faust's own ``/router``,
  ``/table``, ``/stats`` views among them).

The console signs in once with a token (``/console/login``) and then sends a signed
session cookie instead (:mod:`streams.web.console.session`); a console page asked for
without one redirects to the sign-in page.

No token: 401; a token without the path's role: 403; both as JSON ``{"error": ...}``,
never a stack trace. Without ``RAPPORT_WEB_TOKENS`` the API is open, as on a laptop;
a worker bound to a wildcard address without it logs a warning at start.

>>> from streams.core.tokens import parse_tokens
>>> table = parse_tokens(f"analyst:{digest('s3cret')}")
>>> decide("/sql", "s3cret", table), decide("/sql", None, table)[0], decide("/health", None, table)
((200, ''), 401, (200, ''))
>>> decide("/conversations/k1/drafts", "s3cret", table)
(403, 'role analyst may not use /conversations/k1/drafts (needs: agent)')
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from streams.core.tokens import digest
from streams.web.console.session import COOKIE, Sessions

log = logging.getLogger(__name__)

OPEN: Final = frozenset(
    {"/health", "/ready", "/metrics", "/console/login", "/console/app.js", "/console/app.css"}
)
RULES: Final = (
    ("/console", frozenset({"agent"})),
    ("/sql", frozenset({"analyst"})),
    ("/customers/", frozenset({"agent", "analyst"})),
    ("/conversations/", frozenset({"agent"})),
    ("/drafts/", frozenset({"agent"})),
)
OTHERWISE: Final = frozenset({"ops"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def roles_for(path: str) -> frozenset[str]:
    for prefix, roles in RULES:
        if path == prefix or path.startswith(prefix):
            return roles
    return OTHERWISE


def role_of(token: str, table: dict[str, str]) -> str | None:
    """The role of a token (None: unknown), every entry compared in constant time."""
    wanted = digest(token)
    found = None
    for hashed, role in table.items():  # every entry compared: no early exit on a match
        if hmac.compare_digest(hashed, wanted):
            found = role
    return found


def decide(
    path: str, token: str | None, table: dict[str, str], session_role: str | None = None
) -> tuple[int, str]:
    """``(200, "")`` to serve the request, else the status and the reason. A bearer
    token wins over the console's session (its role, already verified)."""
    if path in OPEN or not table:  # no tokens configured: the API is open
        return 200, ""
    needed = roles_for(path)
    if not token and session_role is None:
        return 401, "sign in: send Authorization: Bearer <token> (see RAPPORT_WEB_TOKENS)"
    role = role_of(token, table) if token else session_role
    if role is None:
        return 401, "unknown token"
    if role not in needed:
        return 403, f"role {role} may not use {path} (needs: {', '.join(sorted(needed))})"
    return 200, ""


def is_console_page(path: str) -> bool:
    return (path == "/console" or path.startswith("/console/")) and path != "/console/stream"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def middleware(table: dict[str, str], sessions: Sessions) -> Middleware:
    """The aiohttp middleware enforcing :func:`decide` (module docstring)."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        token, role = bearer(request), None
        if table and not token and request.path not in OPEN:  # a console's session, if any
            session = sessions.verify(request.cookies.get(COOKIE))
            role = None if session is None else session.role
        status, reason = decide(request.path, token, table, role)
        if status == 401 and request.method == "GET" and is_console_page(request.path):
            raise web.HTTPSeeOther(f"/console/login?next={quote(request.path_qs)}")
        if status != 200:
            body = orjson.dumps({"error": reason})
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return web.Response(
                body=body, status=status, content_type="application/json", headers=headers
            )
        return await handler(request)

    return auth
