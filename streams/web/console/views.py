"""The console's routes on the worker's web server.

- ``GET /console``: the queue; ``GET /console/stream``: Server-Sent Events, ``draft``
  for each draft saved by any worker (Redis pub/sub) and ``ops`` every few seconds;
- ``GET /console/conversations/{id}``; ``POST /console/drafts/{draft_id}`` (the verdict,
  with the form's CSRF token) answered with a redirect back to the conversation;
- ``GET /console/customers/{id}`` (and ``/console/customers?id=`` from the search box);
- ``GET|POST /console/login``, ``POST /console/logout``; ``/console/app.js|.css``.

Signing in exchanges an ``agent`` token for the session cookie. Without
``RAPPORT_WEB_TOKENS`` (a laptop) the console is open and a session is issued on the
first page, so its forms still carry a CSRF token.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

import orjson
from aiohttp import web
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from streams.core.runtime import Runtime
from streams.core.tokens import digest
from streams.web.auth import role_of
from streams.web.console import html
from streams.web.console.data import Console, ConsoleError, ops
from streams.web.console.session import COOKIE, Session, Sessions
from streams.web.console.static import SCRIPT, STYLE

log = logging.getLogger(__name__)
OPS_EVERY_S = 5.0
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _next(path: str) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    return path if path.startswith("/console") and not path.startswith("//") else "/console"


def register(runtime: Runtime, console: Console, sessions: Sessions) -> None:
    app = runtime.app
    settings = runtime.settings
    table = settings.token_table

    def session_of(request: Request) -> Session | None:
        return sessions.verify(request.cookies.get(COOKIE))

    def respond(
        body: str,
        *,
        status: int = 200,
        cookie: str | None = None,
        location: str | None = None,
        clear: bool = False,
    ) -> Response:
        headers = dict(HEADERS)
        if location:
            headers["Location"] = location
        resp = web.Response(
            text=body, status=status, content_type="text/html", charset="utf-8", headers=headers
        )
        if cookie is not None:
            resp.set_cookie(COOKIE, cookie, **sessions.cookie_options())  # type: ignore[arg-type]
        if clear:
            resp.del_cookie(COOKIE, path="/")
        return cast(Response, resp)  # Faust's views answer with aiohttp's responses

    def page(request: Request, title: str, body: Callable[[str], str]) -> Response:
        """A console page, its ``body`` rendered with the session's CSRF token; an open
        console (no tokens) issues its session here."""
        session, cookie = session_of(request), None
        if session is None:  # only reachable without tokens: the middleware signs in first
            cookie = sessions.issue("agent")
            session = sessions.verify(cookie)
            assert session is not None
        csrf = sessions.csrf(session)
        text = html.page(title, body(csrf), csrf=csrf, ops=ops(settings), signed_in=bool(table))
        return respond(text, cookie=cookie)

    def failed(exc: ConsoleError) -> Response:
        return respond(html.error(exc.status, str(exc)), status=exc.status)

    async def form_of(request: Request) -> tuple[Session, Any]:
        """The posted form of a signed-in session with its CSRF token, or a 403."""
        form = await request.post()
        session = session_of(request)
        if session is None or not sessions.csrf_ok(session, str(form.get("csrf", ""))):
            raise ConsoleError(403, "the form's CSRF token is missing or wrong: reload the page")
        return session, form

    @app.page("/console")
    class Queue(View):
        async def get(self, request: Request) -> Response:
            try:
                drafts = await console.queue()
            except ConsoleError as exc:
                return failed(exc)
            return page(request, "Queue", lambda _: html.queue(drafts))

    @app.page("/console/stream")
    class Stream(View):
        async def get(self, request: Request) -> Any:
            return await stream(request, console, settings)

    @app.page("/console/conversations/{conversation_id}")
    class Conversation(View):
        async def get(self, request: Request, conversation_id: str) -> Response:
            try:
                drafts, thread = await console.conversation(conversation_id)
            except ConsoleError as exc:
                return failed(exc)
            sent = request.query.get("sent")
            return page(
                request,
                f"Conversation {conversation_id}",
                lambda csrf: html.conversation(conversation_id, drafts, thread, csrf, sent),
            )

    @app.page("/console/drafts/{draft_id}")
    class Verdict(View):
        async def post(self, request: Request, draft_id: str) -> Response:
            try:
                session, form = await form_of(request)
                agent_id = f"agent-{session.who}" if session.who else None
                event, draft = await console.verdict(
                    draft_id, str(form.get("verdict", "")), form.get("final_text"), agent_id
                )
            except ConsoleError as exc:
                return failed(exc)
            conv = quote(str(draft["conversation_id"]), safe="")
            sent = quote(f"{event['verdict']}: sent as feedback {event['event_id']}")
            return respond("", status=303, location=f"/console/conversations/{conv}?sent={sent}")

    @app.page("/console/customers")
    class CustomerSearch(View):
        async def get(self, request: Request) -> Response:
            wanted = quote(str(request.query.get("id", "")).strip(), safe="")
            return respond("", status=303, location=f"/console/customers/{wanted}")

    @app.page("/console/customers/{customer_id}")
    class Customer(View):
        async def get(self, request: Request, customer_id: str) -> Response:
            try:
                found = await console.customer(customer_id)
            except ConsoleError as exc:
                return failed(exc)
            return page(request, f"Customer {customer_id}", lambda _: html.customer(found))

    @app.page("/console/login")
    class Login(View):
        async def get(self, request: Request) -> Response:
            return respond(html.login(_next(request.query.get("next", "/console")), None))

        async def post(self, request: Request) -> Response:
            form = await request.post()
            token, wanted = str(form.get("token", "")), _next(str(form.get("next", "")))
            role = role_of(token, table) if table else "agent"
            if role is None:
                return respond(html.login(wanted, "Unknown token."), status=401)
            if role != "agent":
                message = f"A {role} token cannot open the console: sign in with an agent's."
                return respond(html.login(wanted, message), status=403)
            cookie = sessions.issue(role, who=digest(token)[:8] if table else "")
            return respond("", status=303, cookie=cookie, location=wanted)

    @app.page("/console/logout")
    class Logout(View):
        async def post(self, request: Request) -> Response:
            try:
                await form_of(request)
            except ConsoleError as exc:
                return failed(exc)
            return respond("", status=303, location="/console/login", clear=True)

    @app.page("/console/app.js")
    class Script(View):
        async def get(self, request: Request) -> Response:
            return self.text(SCRIPT, content_type="text/javascript", headers=dict(HEADERS))

    @app.page("/console/app.css")
    class Style(View):
        async def get(self, request: Request) -> Response:
            return self.text(STYLE, content_type="text/css", headers=dict(HEADERS))


async def stream(request: Any, console: Console, settings: Any) -> web.StreamResponse:
    """Server-Sent Events: each draft saved anywhere, and the ops strip every few seconds."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    pubsub = console.drafts.client.pubsub()
    try:
        await pubsub.subscribe(console.drafts.channel)
        await resp.write(_event("ops", orjson.dumps(ops(settings))))
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=OPS_EVERY_S)
            if message is not None and isinstance(message.get("data"), bytes):
                await resp.write(_event("draft", message["data"]))
            else:
                await resp.write(_event("ops", orjson.dumps(ops(settings))))
    except (ConnectionResetError, RuntimeError):
        pass  # the page was closed, or the worker stops
    except (RedisError, OSError) as exc:
        log.warning("console stream: Redis unavailable: %s", exc)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
    return resp


def _event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
