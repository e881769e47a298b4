"""``rapport features``: the answer printed, unknown customers exit 1, worker or Redis."""

from __future__ import annotations

from typing import Any

import pytest

from streams import cli
from streams.cli import features as cli_features
from streams.core.settings import Settings

BODY = {
    "customer_id": "c1",
    "source": "table",
    "as_of": "2024-01-01T00:00:05+00:00",
    "features": {"events": 4, "rating_mean_all": 4.5, "rfm_score": None},
}


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], *, worker: Any, redis: Any) -> int:
    def from_worker(base: str, customer: str, token: str | None = None) -> tuple[int, Any]:
        assert token is None  # RAPPORT_WEB_TOKEN is not set here
        if isinstance(worker, Exception):
            raise worker
        answer: tuple[int, Any] = worker
        return answer

    monkeypatch.setattr(cli_features, "from_worker", from_worker)
    monkeypatch.setattr(cli_features, "from_redis", lambda settings, customer: redis)
    monkeypatch.setattr(cli, "Settings", lambda: Settings(_env_file=None))
    return cli.main(["features", *argv])


def test_prints_the_features(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, ["c1"], worker=(200, BODY), redis=None) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "customer c1  (source: table, as of 2024-01-01T00:00:05+00:00)"
    assert "  rating_mean_all  4.5" in out and "  rfm_score        null" in out


def test_unknown_customer_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(monkeypatch, ["nobody"], worker=(404, {"error": "unknown_customer"}), redis=None) == 1
    )
    assert "unknown customer 'nobody'" in capsys.readouterr().err


def test_falls_back_to_redis_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    down = cli_features.WorkerUnreachableError("no worker answers at http://127.0.0.1:6066")
    redis_body = {**BODY, "source": "redis (direct)"}
    assert run(monkeypatch, ["c1", "--json"], worker=down, redis=(200, redis_body)) == 0
    assert '"source": "redis (direct)"' in capsys.readouterr().out
    assert run(monkeypatch, ["c1", "--source", "worker"], worker=down, redis=None) == 2
    assert "no worker answers" in capsys.readouterr().err


def test_worker_error_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, ["c1"], worker=(503, {"detail": "Redis read failed"}), redis=None) == 2
    assert "HTTP 503: Redis read failed" in capsys.readouterr().err
