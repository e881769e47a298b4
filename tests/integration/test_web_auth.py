"""A real worker with API tokens: the probes and metrics stay open, every other endpoint
(Faust's own included) asks for a token of the right role, and the CLI signs in with
``RAPPORT_WEB_TOKEN``."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from streams.core.tokens import new_token
from tests.integration.conftest import Scope
from tests.support.workers import WorkerProcess


def status(port: int, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def rapport_sql(scope: Scope, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "sql", "SELECT 1 AS one", "--format", "json"],
        env={**os.environ, **scope.env(RAPPORT_WEB_PORT=str(port), **env)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_endpoint_but_the_probes_asks_for_a_token_of_its_role(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    made = {role: new_token(role) for role in ("agent", "analyst", "ops")}
    tokens = ",".join(entry for _, entry in made.values())
    worker = start_worker(RAPPORT_WEB_TOKENS=tokens, RAPPORT_DRAFTING_ENABLED="false")
    port = worker.port
    agent, analyst, ops = (made[r][0] for r in ("agent", "analyst", "ops"))
    for path in ("/health", "/ready", "/metrics"):
        assert status(port, path) == 200, path
    assert status(port, "/customers/c1/features") == 401
    assert status(port, "/customers/c1/features", agent) == 404  # served: no such customer
    assert status(port, "/customers/c1/features", ops) == 403
    assert status(port, "/conversations/k1/drafts", analyst) == 403
    assert status(port, "/conversations/k1/drafts", agent) in (200, 404)
    assert status(port, "/router/") == 401  # Faust's own views too
    assert status(port, "/router/", ops) == 200
    assert "Traceback" not in worker.log_tail(200)

    done = rapport_sql(scope, port, RAPPORT_WEB_TOKEN=analyst)
    assert done.returncode == 0, done.stderr
    assert '"one":1' in done.stdout.replace(" ", "")
    refused = rapport_sql(scope, port)
    assert refused.returncode == 2
    assert "sign in" in refused.stderr and "Traceback" not in refused.stderr
    wrong = rapport_sql(scope, port, RAPPORT_WEB_TOKEN=agent)
    assert wrong.returncode == 2 and "role agent may not use /sql" in wrong.stderr
