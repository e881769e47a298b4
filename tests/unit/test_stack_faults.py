"""Stack faults give one clear message naming the fix: missing tools, taken ports, a
model the LLM server cannot load."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.errors import StackError
from streams.stack import kafka, llm
from streams.stack.kafka import KafkaNode
from streams.stack.llm import LlmServer


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
