"""Sign-in and roles on a real aiohttp server with the worker's middleware: who may use
which endpoint, and what a refused caller is told (JSON, no stack trace)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.core.tokens import new_token, parse_tokens
from streams.web.auth import middleware
from streams.web.console.session import Sessions

PATHS = ("/health", "/ready", "/metrics", "/sql", "/customers/c1/features",
         "/conversations/k1/drafts", "/drafts/feedback", "/debug/heap", "/router/",
         "/console/customers/c1")  # fmt: skip


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


async def client(tokens: str) -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[middleware(parse_tokens(tokens), Sessions(None, 60))])
    for path in PATHS:
        app.router.add_route("*", path, ok)
    test = TestClient(TestServer(app))
    await test.start_server()
    return test


@pytest.mark.asyncio
async def test_each_role_reaches_its_endpoints_only() -> None:
    made = {role: new_token(role) for role in ("agent", "analyst", "ops")}
    test = await client(",".join(entry for _, entry in made.values()))
    allowed = {
        "agent": {
            "/customers/c1/features",
            "/conversations/k1/drafts",
            "/drafts/feedback",
            "/console/customers/c1",
        },
        "analyst": {"/sql", "/customers/c1/features"},
        "ops": {"/debug/heap", "/router/"},
    }
    try:
        for role, (token, _) in made.items():
            for path in PATHS:
                resp = await test.get(path, headers={"Authorization": f"Bearer {token}"})
                opened = path in ("/health", "/ready", "/metrics")
                want = 200 if opened or path in allowed[role] else 403
                assert resp.status == want, (role, path)
                if want == 403:
                    body = await resp.json()
                    assert body["error"].startswith(f"role {role} may not use {path}")
        for path in PATHS:  # no token: only the probes and the metrics answer
            resp = await test.get(path, allow_redirects=False)
            if path.startswith("/console/"):  # a browser is sent to the sign-in page
                assert resp.status == 303
                assert resp.headers["Location"] == f"/console/login?next={path}"
                continue
            assert resp.status == (200 if path in ("/health", "/ready", "/metrics") else 401)
        resp = await test.post("/sql", headers={"Authorization": "Bearer guessed"})
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert await resp.json() == {"error": "unknown token"}
        resp = await test.get("/sql", headers={"Authorization": f"Basic {made['analyst'][0]}"})
        assert resp.status == 401  # only bearer tokens
    finally:
        await test.close()


@pytest.mark.asyncio
async def test_without_tokens_the_api_is_open() -> None:
    test = await client("")
    try:
        for path in PATHS:
            assert (await test.get(path)).status == 200, path
    finally:
        await test.close()


def test_bad_token_settings_name_the_setting() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from streams.core.settings import Settings  # noqa: PLC0415

    with pytest.raises(ValidationError, match="not role:sha256-hex"):
        Settings(_env_file=None, web_tokens="admin:abc")
    token, entry = new_token("ops")
    assert Settings(_env_file=None, web_tokens=entry).token_table == parse_tokens(entry)
    assert token not in repr(Settings(_env_file=None, web_tokens=entry))
