"""Every route a worker serves (Faust's own included) has a sign-in rule: the test walks
the real app's route table, so a route added without a rule here fails it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from streams.app import create_app
from streams.core.settings import Settings
from streams.core.tokens import new_token, parse_tokens
from streams.web.auth import decide

OPEN = "open"
AGENT, ANALYST, OPS = frozenset({"agent"}), frozenset({"analyst"}), frozenset({"ops"})
EXPECTED: dict[str, str | frozenset[str]] = {
    "/": OPS,
    "/health": OPEN,
    "/ready": OPEN,
    "/metrics": OPEN,
    "/sql": ANALYST,
    "/customers/{customer_id}/features": AGENT | ANALYST,
    "/conversations/{conversation_id}/drafts": AGENT,
    "/drafts/feedback": AGENT,
    "/console": AGENT,
    "/console/app.css": OPEN,
    "/console/app.js": OPEN,
    "/console/login": OPEN,
    "/console/logout": AGENT,
    "/console/stream": AGENT,
    "/console/customers": AGENT,
    "/console/customers/{customer_id}": AGENT,
    "/console/conversations/{conversation_id}": AGENT,
    "/console/drafts/{draft_id}": AGENT,
    "/router/": OPS,
    "/router/topics": OPS,
    "/router/{name}/": OPS,
    "/router/{name}/{key}/": OPS,
    "/table/": OPS,
    "/table/{name}/": OPS,
    "/table/{name}/{key}/": OPS,
}


def test_every_route_has_a_rule(tmp_path: Path) -> None:
    tokens = {role: new_token(role) for role in ("agent", "analyst", "ops")}
    entries = ",".join(entry for _, entry in tokens.values())
    settings = Settings(_env_file=None, data_dir=tmp_path, store="memory", web_tokens=entries)
    runtime = create_app(settings)
    web: Any = runtime.app.web  # Faust's aiohttp driver
    web.init_server()
    routes = {r.resource.canonical for r in web.web_app.router.routes() if r.resource}
    assert routes == set(EXPECTED), "a route without a rule here (or a rule for a gone route)"
    table = parse_tokens(entries)
    for route, rule in EXPECTED.items():
        path = re.sub(r"\{[a-z_]+\}", "x1", route)
        status, _ = decide(path, None, table)
        assert status == (200 if rule == OPEN else 401), route
        for role, (token, _) in tokens.items():
            status, _ = decide(path, token, table)
            assert status == (200 if rule == OPEN or role in rule else 403), (route, role)
