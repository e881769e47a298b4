"""The Faust app factory: everything a worker runs, built from one Settings object."""

from __future__ import annotations

import logging
from typing import Any

import faust

from streams import lag_monitor
from streams.acks import GuardedStream, RapportApp
from streams.core.address import WILDCARDS, advertised_url
from streams.core.kafka_client import ssl_context
from streams.core.runtime import MAX_RECORD_BYTES, Runtime
from streams.core.settings import Settings
from streams.topics import topic_specs
from streams.web import auth, views
from streams.web import drafts as web_drafts
from streams.web import features as web_features
from streams.web import sql as web_sql
from streams.web.console import views as console_views
from streams.web.console.data import Console
from streams.web.console.session import Sessions

log = logging.getLogger(__name__)


def _credentials(settings: Settings) -> Any:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )


def create_app(settings: Settings) -> Runtime:
    """Build the app, declare the topics and register every agent and web view."""
    key = settings.web_session_key
    sessions = Sessions(
        key.get_secret_value().encode() if key else None,
        settings.web_session_ttl_s,
        secure=settings.web_secure_cookies,
    )
    datadir = (settings.data_dir / "workers" / f"{settings.app_id}-{settings.web_port}").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = RapportApp(
        settings.app_id,
        Stream=GuardedStream,
        broker=settings.faust_broker_url,
        broker_credentials=_credentials(settings),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(datadir),
        processing_guarantee=settings.processing_guarantee.replace("_", "-")
        .replace("at-least-once", "at_least_once")
        .replace("exactly-once", "exactly_once"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        producer_linger=settings.producer_linger_s,
        producer_max_request_size=MAX_RECORD_BYTES,
        consumer_max_fetch_size=MAX_RECORD_BYTES,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=settings.stream_buffer_records,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=advertised_url(settings),
        # sign-in and roles on every endpoint but /health, /ready, /metrics
        web_application_options={"middlewares": [auth.middleware(settings.token_table, sessions)]},
        autodiscover=False,
        table_cleanup_interval=30.0,
    )
    # a batch writes its tables at its end: room for several batches of changelog records
    app.producer_buffer_max = max(100, 4 * settings.batch_max_events)
    # drafting waits on the LLM: its full queue parks its records instead of stalling all
    app.park_topics = frozenset({settings.topic_name("reply_requests")})
    app.fetch_min_bytes = settings.consumer_fetch_min_bytes
    app.fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
    topics: dict[str, faust.TopicT] = {}
    specs = topic_specs(settings)
    for spec in specs:
        config = {"max.message.bytes": str(MAX_RECORD_BYTES)}
        if not spec.compacted:
            config["retention.ms"] = str(spec.retention_ms)
        topics[spec.role] = app.topic(
            spec.name,
            key_type=bytes,
            value_type=bytes,
            partitions=spec.partitions,
            compacting=spec.compacted,
            retention=None,
            config=config,
            internal=True,
            allow_empty=spec.role == "interactions",
        )
    runtime = Runtime(app, settings, topics)

    async def declare_topics() -> None:
        # Faust creates only the topics an agent reads; a topic this worker only writes
        # (reply-requests with drafting off) would be missing, and every send to it would
        # wait on metadata, stalling the agent and, through its full queue, every agent
        # reading the same input
        for topic in topics.values():
            await topic.maybe_declare()

    app.task(declare_topics)
    if not settings.token_table and settings.web_host in WILDCARDS:
        log.warning(
            "the API on %s:%d is open to anyone who reaches it: set RAPPORT_WEB_TOKENS "
            "(rapport token --role R)",
            settings.web_host,
            settings.web_port,
        )
    _register(runtime, sessions)
    return runtime


def _register(runtime: Runtime, sessions: Sessions) -> None:
    """Register the agents of ``RAPPORT_AGENTS`` (all by default), importing only those:
    a worker without scoring or drafting does not load their libraries (seconds)."""
    # only the chosen agents (and their libraries) are imported
    chosen = runtime.settings.agent_names
    sink_agent, feature_agent, scoring_agent = None, None, None
    if "ingest" in chosen:
        from agents import ingest  # noqa: PLC0415

        ingest.register(runtime)
    if "sink" in chosen:
        from agents import sink  # noqa: PLC0415

        sink_agent = sink.register(runtime)
        web_sql.register(runtime, sink_agent.sink)
    if "features" in chosen:
        from agents.customer_features import agent as features  # noqa: PLC0415

        feature_agent = features.register(runtime)
        web_features.register(runtime, feature_agent)
        if "scoring" in chosen:  # the settings refuse scoring without features
            from agents.scoring import agent as scoring  # noqa: PLC0415

            scoring_agent = scoring.register(runtime, feature_agent)
    if "reply_requests" in chosen:
        from agents.drafting import requests as reply_requests  # noqa: PLC0415

        reply_requests.register(runtime, scoring_agent)  # its intent model steers the rule
    if "drafting" in chosen:
        from agents.drafting import agent as drafting  # noqa: PLC0415
        from agents.drafting import webhook  # noqa: PLC0415

        if drafting.register(runtime) is not None:
            webhook.register(runtime)
        # with drafting off too: stored drafts stay readable
        drafts = web_drafts.register(runtime)
        analytics = None if sink_agent is None else sink_agent.sink
        console = Console(runtime, drafts, feature_agent, analytics)
        console_views.register(runtime, console, sessions)
    if "peers" in chosen:
        from agents import peer_features  # noqa: PLC0415

        peer_features.register(runtime)
    views.register(runtime)
    lag_monitor.register(runtime)
