"""Apache Kafka 4.x, single node in KRaft mode, its jars resolved with Maven from Maven Central."""

from __future__ import annotations

import base64
import logging
import shutil
import socket
import struct
import subprocess
import uuid
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from streams.core.errors import StackError
from streams.stack.procs import ManagedProcess, port_open, wait_until

log = logging.getLogger(__name__)

NO_JAVA = (
    "`java` not found: install Java 17 and Maven (apt-get install -y openjdk-17-jre-headless maven)"
)
KAFKA_VERSION = "4.1.1"
CACHE_DIR = Path.home() / ".cache" / "rapport"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dir}
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=4194304
log.retention.hours=168
"""

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


def speaks_kafka(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when host:port answers a Kafka ApiVersions (v0) request."""
    client = b"rapport"
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = sock.recv(8)
    except OSError:
        return False
    return len(header) == 8 and struct.unpack(">ii", header)[1] == 7


@dataclass(frozen=True)
class KafkaNode:
    stack_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    version: str = KAFKA_VERSION

    @property
    def lib_dir(self) -> Path:
        return CACHE_DIR / f"kafka-{self.version}" / "lib"

    @property
    def home(self) -> Path:
        return self.stack_dir / "kafka"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(self.stack_dir, "kafka")

    def classpath(self) -> str:
        return f"{self.lib_dir}/*"

    def resolve_jars(self) -> None:
        """Resolve the broker's jars from Maven Central once into the cache directory."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return
        for tool in ("java", "mvn"):
            if shutil.which(tool) is None:
                raise StackError(NO_JAVA.replace("`java`", f"`{tool}`"))
        work = self.lib_dir.parent
        work.mkdir(parents=True, exist_ok=True)
        pom_text = files("streams.stack").joinpath("kafka-pom.xml").read_text()
        pom = work / "pom.xml"
        pom.write_text(pom_text.replace("KAFKA_VERSION", self.version))
        log.info("resolving Kafka %s jars with Maven into %s", self.version, self.lib_dir)
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.lib_dir}",
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
            msg = "Maven could not resolve Kafka's jars:\n" + "\n".join(tail)
            raise StackError(msg)
        marker.write_text(self.version)

    def _java(
        self, main: str, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            "java", "-Xmx256m", "-cp", self.classpath(),
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}", main, *args,
        ]  # fmt: skip
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"{main} did not finish within {timeout:.0f}s"
            raise StackError(msg) from exc
        except FileNotFoundError as exc:
            raise StackError(NO_JAVA) from exc

    def configure(self) -> Path:
        """Write server.properties and format the KRaft storage once."""
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        log_dir = self.home / "data"
        props.write_text(
            SERVER_PROPERTIES.format(
                host=self.host,
                port=self.port,
                controller_port=self.controller_port,
                log_dir=log_dir,
            )
        )
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if not (log_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            result = self._java(
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)
            )
            if result.returncode != 0:
                msg = f"formatting KRaft storage failed: {result.stdout}{result.stderr}"
                raise StackError(msg)
        return props

    def start(self) -> bool:
        """Start the broker unless ours already runs; False when it was already running."""
        if self.process.running():
            return False
        if port_open(self.host, self.port) and self._answers():
            log.info("a Kafka broker not started by rapport answers on %s:%d", self.host, self.port)
            return False
        for port in (self.port, self.controller_port):
            if port_open(self.host, port):
                msg = (
                    f"port {self.host}:{port} is already in use by a process `rapport stack` did "
                    "not start: stop it, or point RAPPORT_KAFKA_BOOTSTRAP_SERVERS at it"
                )
                raise StackError(msg)
        self.resolve_jars()
        props = self.configure()
        self._launch(
            [
                "java",
                "-Xms512m",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-server",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp",
                self.classpath(),
                "kafka.Kafka",
                str(props),
            ]
        )
        self.wait_ready()
        return True

    def _launch(self, argv: list[str]) -> None:
        try:
            self.process.start(argv)
        except FileNotFoundError as exc:
            raise StackError(NO_JAVA) from exc

    def wait_ready(self, timeout: float = 90.0) -> None:
        wait_until(
            lambda: port_open(self.host, self.port),
            timeout,
            "Kafka broker",
            alive=self.process.running,
        )

    def _answers(self) -> bool:
        return speaks_kafka(self.host, self.port)

    def stop(self) -> bool:
        return self.process.stop(timeout=60.0)

    def reported_version(self) -> str:
        """What the broker says of itself: its finalized metadata.version (kafka-features)."""
        result = self._java(
            "org.apache.kafka.tools.FeatureCommand",
            "--bootstrap-server",
            f"{self.host}:{self.port}",
            "describe",
            timeout=60,
        )
        for line in result.stdout.splitlines():
            if "metadata.version" in line:
                fields = dict(part.split(": ", 1) for part in line.split("\t") if ": " in part)
                level = fields.get("FinalizedVersionLevel", "?")
                return f"Kafka (kafka-features) metadata.version {level}, jars {self.version}"
        msg = f"kafka-features did not answer: {result.stderr.strip()[-300:]}"
        raise StackError(msg)
