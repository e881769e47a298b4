"""``rapport stack up | down | status``: the three local services as one unit."""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from streams.core.errors import ConfigError, StackError
from streams.core.kafka_client import brokers
from streams.core.settings import Settings
from streams.stack.kafka import KafkaNode, speaks_kafka
from streams.stack.llm import LlmServer
from streams.stack.procs import ManagedProcess, port_open
from streams.stack.redis import RedisNode

log = logging.getLogger(__name__)


class Service(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def process(self) -> ManagedProcess: ...
    def start(self) -> bool: ...
    def stop(self) -> bool: ...
    def reported_version(self) -> str: ...


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ok: bool
    detail: str
    owned: bool


def _host_port(url: str, setting: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(url if "//" in url else f"//{url}")
    if not parsed.hostname:
        msg = f"{setting}={url!r} has no host"
        raise ConfigError(msg)
    try:
        return parsed.hostname, parsed.port or default_port
    except ValueError as exc:
        msg = f"{setting}={url!r}: {exc}"
        raise ConfigError(msg) from exc


def services(settings: Settings, *, with_llm: bool = True) -> dict[str, Service]:
    stack_dir = (settings.data_dir / "stack").resolve()
    first_broker = brokers(settings)[0]
    k_host, k_port = _host_port(first_broker, "RAPPORT_KAFKA_BOOTSTRAP_SERVERS", 9092)
    r_host, r_port = _host_port(settings.redis_url.get_secret_value(), "RAPPORT_REDIS_URL", 6379)
    found: dict[str, Service] = {
        "kafka": KafkaNode(stack_dir, k_host, k_port, k_port + 1),
        "redis": RedisNode(stack_dir, r_host, r_port),
    }
    if with_llm:
        l_host, l_port = _host_port(settings.llm_base_url, "RAPPORT_LLM_BASE_URL", 80)
        found["llm"] = LlmServer(stack_dir, l_host, l_port, settings.llm_model)
    return found


def is_local(host: str) -> bool:
    """True when ``host`` is this machine's loopback (only those can be started here)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def require_broker(settings: Settings) -> None:
    """Raise a StackError naming the setting unless a Kafka broker answers on one address."""
    servers = settings.kafka_bootstrap_servers
    tls = settings.kafka_security_protocol in ("SSL", "SASL_SSL")
    for hostport in brokers(settings):
        host, port = _host_port(hostport, "RAPPORT_KAFKA_BOOTSTRAP_SERVERS", 9092)
        if port_open(host, port, timeout=2.0) if tls else speaks_kafka(host, port):
            return
    msg = (
        f"no Kafka broker answers at {servers} (RAPPORT_KAFKA_BOOTSTRAP_SERVERS): "
        "start the local one with `rapport stack up`, or point the setting at a running broker"
    )
    raise StackError(msg)


def up(settings: Settings, *, with_llm: bool = True) -> list[str]:
    """Start what is not running; returns the names of the services this call started.

    A service on another machine is never started here: a remote broker must answer.
    """
    started = []
    for name, service in services(settings, with_llm=with_llm).items():
        if not is_local(service.host):
            if name == "kafka":
                require_broker(settings)
            log.info("%s is on %s, not this machine: not started", name, service.host)
            continue
        if service.start():
            started.append(name)
            log.info("%s started", name)
        else:
            log.info("%s already running", name)
    return started


def down(settings: Settings, only: list[str] | None = None) -> list[str]:
    """Stop the services ``up`` started (never a process it did not start)."""
    stopped = []
    for name, service in reversed(services(settings).items()):
        if (only is None or name in only) and service.stop():
            stopped.append(name)
    return stopped


def status(settings: Settings) -> list[ServiceStatus]:
    rows = []
    for name, service in services(settings).items():
        owned = service.process.running()
        try:
            rows.append(ServiceStatus(name, True, service.reported_version(), owned))
        except StackError as exc:
            rows.append(ServiceStatus(name, False, str(exc), owned))
    rows.append(_chdb_status())
    return rows


def _chdb_status() -> ServiceStatus:
    try:
        import chdb  # noqa: PLC0415

        result = chdb.query("SELECT version()", "CSV")  # type: ignore[no-untyped-call]
        version = result.bytes().decode().strip().strip('"')
        return ServiceStatus("clickhouse (chDB)", True, f"engine {version}, in-process", False)
    except Exception as exc:
        return ServiceStatus("clickhouse (chDB)", False, f"chDB failed: {exc}", False)
