"""A ``rapport worker`` as a child process: the main job and every bench start one."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from functools import partial

from streams.core.errors import StackError
from streams.core.settings import Settings
from streams.stack.procs import port_open, stop_child, wait_until


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """A ``rapport worker`` child, returned once ``/ready``; never left behind on failure."""
    if port_open(settings.web_host, settings.web_port, timeout=1.0):
        # another worker would answer our readiness probe: refuse instead of trusting it
        msg = (
            f"web port {settings.web_host}:{settings.web_port} is taken by another process "
            "(a worker still running?): stop it or set RAPPORT_WEB_PORT"
        )
        raise StackError(msg)
    log_path = settings.data_dir / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **settings.to_env()},
        )
    try:
        wait_until(
            partial(_ready, settings.web_port), 180, "worker", alive=lambda: proc.poll() is None
        )
    except BaseException as exc:  # Ctrl-C or not ready: stop it before passing the error on
        stop_child(proc)
        if isinstance(exc, StackError):
            raise StackError(f"{exc}; see {log_path}") from exc
        raise
    return proc


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
            return True
    except OSError:  # not listening yet, or 503 (HTTPError) until assigned and recovered
        return False
