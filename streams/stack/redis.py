"""Debian's redis-server: installed when missing, started when none answers."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streams.core.errors import StackError
from streams.stack.procs import ManagedProcess, port_open, wait_until

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisNode:
    stack_dir: Path
    host: str = "127.0.0.1"
    port: int = 6379

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(self.stack_dir, "redis")

    def install(self) -> str:
        path = shutil.which("redis-server")
        if path:
            return path
        if shutil.which("apt-get") is None:
            msg = "redis-server not found and apt-get is unavailable: install Redis >= 6"
            raise StackError(msg)
        log.info("installing Debian's redis-server")
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "redis-server"],
        ):
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
                env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
            if result.returncode != 0:
                msg = f"`{' '.join(argv)}` failed: {result.stderr.strip()[-400:]}"
                raise StackError(msg)
        path = shutil.which("redis-server")
        if path is None:
            msg = "redis-server still missing after apt-get install"
            raise StackError(msg)
        return path

    def start(self) -> bool:
        """Start ours unless a Redis already answers on the port; False when none was started."""
        if self.process.running():
            return False
        if port_open(self.host, self.port):
            if self.speaks_redis():
                return False
            msg = (
                f"port {self.host}:{self.port} is taken by a process that does not answer a "
                "Redis PING: stop it, or point RAPPORT_REDIS_URL at a Redis server"
            )
            raise StackError(msg)
        binary = self.install()
        data = self.stack_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(data),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ]
        )
        wait_until(self.ping, 30, "Redis", alive=self.process.running)
        return True

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(host=self.host, port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def speaks_redis(self) -> bool:
        """True when the port answers PING as Redis does, a refusal for want of a password too."""
        client = redis.Redis(
            host=self.host, port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        try:
            return bool(client.ping())
        except (redis.AuthenticationError, redis.ResponseError):
            return True  # Redis itself, asking for credentials (NOAUTH, WRONGPASS)
        except redis.RedisError:
            return False

    def stop(self) -> bool:
        return self.process.stop()

    def reported_version(self) -> str:
        try:
            info = redis.Redis(host=self.host, port=self.port, socket_timeout=2).info("server")
        except redis.RedisError as exc:
            msg = f"Redis at {self.host}:{self.port} did not answer: {exc}"
            raise StackError(msg) from exc
        return f"redis_version {info['redis_version']}"
