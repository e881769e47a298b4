"""aiokafka client options from settings (bootstrap, SASL, TLS): one place for every client."""

from __future__ import annotations

import ssl
from typing import Any

from streams.core.settings import KafkaSettings


def brokers(settings: KafkaSettings) -> list[str]:
    """The ``host:port`` addresses of ``RAPPORT_KAFKA_BOOTSTRAP_SERVERS``, in order.

    >>> brokers(KafkaSettings(kafka_bootstrap_servers="a:9092,b:9093"))
    ['a:9092', 'b:9093']
    """
    return [hp.strip() for hp in settings.kafka_bootstrap_servers.split(",")]


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of ``SSL`` and ``SASL_SSL`` (CA file, client certificate), else None.

    >>> ssl_context(KafkaSettings()) is None
    True
    """
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments of every aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options
