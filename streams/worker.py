"""Run one Faust worker in this process, after checking what would make it fail opaquely."""

from __future__ import annotations

import socket

import faust

from streams.app import create_app
from streams.errors import ConfigError, StackError
from streams.settings import Settings
from streams.stack.procs import port_open


def preflight(settings: Settings) -> None:
    brokers = [hp.strip() for hp in settings.kafka_bootstrap_servers.split(",")]
    reachable = []
    for hostport in brokers:
        host, _, port = hostport.rpartition(":")
        reachable.append(port_open(host, int(port), timeout=2.0))
    if not any(reachable):
        msg = (
            f"no Kafka broker answers at {settings.kafka_bootstrap_servers} "
            "(RAPPORT_KAFKA_BOOTSTRAP_SERVERS): start one with `rapport stack up`"
        )
        raise StackError(msg)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.web_host, settings.web_port))
        except OSError as exc:
            msg = (
                f"web port {settings.web_host}:{settings.web_port} is taken ({exc.strerror}): "
                "set RAPPORT_WEB_PORT to a free port"
            )
            raise ConfigError(msg) from exc


def run_worker(settings: Settings) -> int:
    preflight(settings)
    runtime = create_app(settings)
    worker = faust.Worker(
        runtime.app,
        loglevel=settings.log_level.upper(),
        blocking_timeout=settings.blocking_timeout_s or None,
    )
    worker.execute_from_commandline()
    return 0
