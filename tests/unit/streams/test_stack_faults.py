"""Stack faults give one clear message naming the fix: missing tools, taken ports (Kafka,
Redis, LLM), a model the LLM server cannot load, a remote broker that does not answer."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.core.errors import StackError
from streams.core.settings import Settings
from streams.stack import control, kafka, llm
from streams.stack.kafka import KafkaNode
from streams.stack.llm import LlmServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def listener() -> Iterator[int]:
    """A port held by something that is neither Kafka nor an LLM server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_missing_java_or_maven_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kafka, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn on it
    with pytest.raises(StackError, match=r"`java` not found: install Java 17 and Maven"):
        KafkaNode(tmp_path).resolve_jars()


def test_kafka_port_taken_by_another_process(tmp_path: Path, listener: int) -> None:
    node = KafkaNode(tmp_path, port=listener, controller_port=listener + 1)
    with pytest.raises(StackError, match=rf"port 127.0.0.1:{listener} is already in use"):
        node.start()
    assert not node.process.running()


def test_llm_port_taken_by_another_process(tmp_path: Path, listener: int) -> None:
    server = LlmServer(tmp_path, port=listener)
    with pytest.raises(StackError, match=r"RAPPORT_LLM_BASE_URL"):
        server.start()


def test_llm_server_that_cannot_load_its_model_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file")
    monkeypatch.setattr(llm, "model_path", lambda: bogus)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = LlmServer(tmp_path, port=port)
    with pytest.raises(StackError, match=r"LLM server: the process exited before it was ready"):
        server.start()
    assert not server.process.running()


def test_redis_port_held_by_something_else_names_the_setting(tmp_path: Path, listener: int) -> None:
    settings = Settings(
        _env_file=None, data_dir=tmp_path, redis_url=SecretStr(f"redis://127.0.0.1:{listener}/0")
    )
    node = control.services(settings, with_llm=False)["redis"]
    with pytest.raises(StackError, match=rf"127.0.0.1:{listener} .*RAPPORT_REDIS_URL"):
        node.start()
    assert not node.process.running()  # nothing started in its place


@pytest.mark.parametrize("formatted", [False, True], ids=["at-format", "at-launch"])
def test_java_missing_after_jars_were_cached_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formatted: bool
) -> None:
    """Jars cached by an earlier run, then Java removed: a StackError, not FileNotFoundError."""
    monkeypatch.setattr(kafka, "CACHE_DIR", tmp_path / "cache")
    node = KafkaNode(tmp_path, port=free_port(), controller_port=free_port())
    node.lib_dir.mkdir(parents=True)
    (node.lib_dir / ".complete").write_text(node.version)
    if formatted:  # storage formatted earlier: the broker launch itself finds no java
        (node.home / "data").mkdir(parents=True)
        (node.home / "data" / "meta.properties").write_text("version=1\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(StackError, match=r"`java` not found: .*openjdk-17-jre-headless"):
        node.start()
    assert not node.process.running()


def test_remote_broker_that_does_not_answer_is_not_started(tmp_path: Path) -> None:
    """`stack up` starts local services only; a remote broker must answer (TEST-NET-1)."""
    settings = Settings(_env_file=None, data_dir=tmp_path, kafka_bootstrap_servers="192.0.2.1:9092")
    with pytest.raises(StackError, match=r"192.0.2.1:9092 \(RAPPORT_KAFKA_BOOTSTRAP_SERVERS\)"):
        control.up(settings, with_llm=False)
    assert not (tmp_path / "stack" / "kafka.pid").exists()
    assert not (tmp_path / "stack" / "redis.pid").exists()


class _BusyLlama(http.server.BaseHTTPRequestHandler):
    """llama.cpp's server while it generates: /v1/models waits for the model lock."""

    def do_GET(self) -> None:
        if self.path == "/openapi.json":
            body = json.dumps({"paths": {"/v1/completions": {}, "/v1/models": {}}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            time.sleep(7)  # longer than the models timeout
            self.send_response(503)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_busy_llm_server_counts_as_up_not_as_a_foreign_process(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BusyLlama)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        llm_server = LlmServer(tmp_path, port=server.server_address[1])
        assert llm_server.start() is False  # already running: neither started nor refused
        assert llm_server.reported_version().startswith("busy generating")
        assert not llm_server.process.running()
    finally:
        server.shutdown()
        server.server_close()
