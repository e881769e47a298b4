"""The chDB writer lease in Redis (``streams.core.sink_lease``): one store per deployment,
a restarted store takes its lease back, a second live writer of any store is refused."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from streams.core.errors import ConfigError
from streams.core.settings import Settings
from streams.core.sink_lease import Holder, acquire, lease_key, release, renew, writer_url
from tests.integration.conftest import Scope


def holder(path: Path, pid: int, port: int) -> Holder:
    return Holder(str(path), socket.gethostname(), f"http://127.0.0.1:{port}", pid)


def test_one_writer_per_deployment(scope: Scope) -> None:
    base = scope.settings()
    settings: Settings = base.model_copy(update={"app_id": f"{base.app_id}-sink"})
    assert lease_key(settings).endswith(f"chdb-writer:{base.app_id}")
    store, other_store = scope.data_dir / "chdb", scope.data_dir / "chdb-2"
    alive = subprocess.Popen(["sleep", "60"])  # a writer that still runs
    try:
        first = holder(store, alive.pid, 7001)
        acquire(settings, first)
        assert writer_url(settings) == "http://127.0.0.1:7001"
        # another store while the first is held: N partial databases, refused with the fix
        with pytest.raises(ConfigError, match="RAPPORT_AGENTS=processing"):
            acquire(settings, holder(other_store, os.getpid(), 7002))
        # the same store while its writer runs: refused too
        with pytest.raises(ConfigError, match="already writes the chDB store"):
            acquire(settings, holder(store, os.getpid(), 7003))
        assert not renew(settings, holder(other_store, os.getpid(), 7002))
    finally:
        alive.kill()
        alive.wait()
    # the writer is gone (a SIGKILL): the same store started again takes its lease back
    again = holder(store, os.getpid(), 7004)
    acquire(settings, again)
    assert writer_url(settings) == "http://127.0.0.1:7004"
    assert renew(settings, again)
    release(settings, again)
    assert writer_url(settings) is None
