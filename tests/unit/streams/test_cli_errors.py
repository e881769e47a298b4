"""Bad configuration gets one clear line naming the setting, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import build_parser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RAPPORT_CLICKHOUSE_DSN": "mysql://x"}, "RAPPORT_CLICKHOUSE_DSN"),
        ({"RAPPORT_KAFKA_BOOTSTRAP_SERVERS": "nohostport"}, "RAPPORT_KAFKA_BOOTSTRAP_SERVERS"),
        ({"RAPPORT_WEB_PORT": "99999"}, "RAPPORT_WEB_PORT"),
        ({"RAPPORT_STORE": "leveldb"}, "RAPPORT_STORE"),
    ],
)
def test_malformed_settings_name_the_setting(env: dict[str, str], needle: str) -> None:
    result = run("worker", **env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_names_setting_and_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("worker", RAPPORT_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert "RAPPORT_KAFKA_BOOTSTRAP_SERVERS" in result.stderr
    assert "rapport stack up" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_port_taken_names_setting() -> None:
    with socket.socket() as busy, socket.socket() as broker:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        broker.bind(("127.0.0.1", 0))
        broker.listen()  # something answers where the broker should be
        result = run(
            "worker",
            RAPPORT_WEB_PORT=str(busy.getsockname()[1]),
            RAPPORT_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{broker.getsockname()[1]}",
        )
    assert result.returncode == 2
    assert "RAPPORT_WEB_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_subcommand_has_help() -> None:
    top = run("--help")
    assert top.returncode == 0
    commands = top.stdout.split("{", 1)[1].split("}", 1)[0].split(",") if "{" in top.stdout else []
    _, handlers = build_parser()
    for name in handlers:
        result = run(name, "--help")
        assert result.returncode == 0, name
        assert "usage: rapport " + name in result.stdout
    assert commands == [] or set(commands) <= set(handlers)


@pytest.mark.parametrize("answering", [False, True], ids=["nothing-listens", "not-kafka"])
def test_replay_with_unreachable_broker_is_one_line(tmp_path: Path, answering: bool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if answering:
            sock.listen()  # something accepts connections, but it does not speak Kafka
        port = sock.getsockname()[1]
        result = run(
            "replay",
            "--limit",
            "5",
            "--quiet",
            RAPPORT_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}",
            RAPPORT_DATA_DIR=str(tmp_path),
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port} (RAPPORT_KAFKA_BOOTSTRAP_SERVERS)" in lines[0]
    assert "rapport stack up" in lines[0]
    assert "produced" not in result.stdout


def test_run_with_unreachable_remote_broker_is_one_line(tmp_path: Path) -> None:
    """The main job starts local services only: a remote broker that does not answer
    (TEST-NET-1, never routed) stops it before any service or worker is started."""
    result = run(
        "run",
        "--limit",
        "5",
        "--quiet",
        RAPPORT_KAFKA_BOOTSTRAP_SERVERS="192.0.2.1:9092",
        RAPPORT_DATA_DIR=str(tmp_path),
        RAPPORT_WEB_PORT=str(free_port()),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "192.0.2.1:9092 (RAPPORT_KAFKA_BOOTSTRAP_SERVERS)" in lines[0]
    assert "2/3" not in result.stdout  # no worker was started
    assert not (tmp_path / "stack").exists() or not any((tmp_path / "stack").glob("*.pid"))


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RAPPORT_WEB_HOST": "0.0.0.0"}, "set RAPPORT_WEB_ADVERTISED_URL"),
        (
            {"RAPPORT_WEB_HOST": "0.0.0.0", "RAPPORT_WEB_ADVERTISED_URL": "http://0.0.0.0:1"},
            "names a wildcard address",
        ),
        ({"RAPPORT_WEB_ADVERTISED_URL": "w-1:6066"}, "RAPPORT_WEB_ADVERTISED_URL"),
        ({"RAPPORT_WEB_ADVERTISED_URL": "http://{pod}:6066"}, "unknown placeholder"),
    ],
)
def test_worker_refuses_an_address_others_cannot_route_to(env: dict[str, str], needle: str) -> None:
    """A wildcard bind advertised as the worker's URL would make every worker take
    itself for every customer's owner: refused before anything starts."""
    result = run("worker", RAPPORT_WEB_PORT=str(free_port()), **env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_advertised_url_fills_in_the_container_address() -> None:
    from streams.core.address import advertised_url, checked_advertised_url  # noqa: PLC0415
    from streams.core.settings import Settings  # noqa: PLC0415

    wild = Settings(
        _env_file=None, web_host="0.0.0.0", web_port=7001, web_advertised_url="http://{ip}:{port}"
    )
    url = checked_advertised_url(wild)
    assert url == f"http://{socket.gethostbyname(socket.gethostname())}:7001"
    named = Settings(_env_file=None, web_advertised_url="https://{hostname}.svc:443/")
    assert advertised_url(named) == f"https://{socket.gethostname()}.svc:443"
