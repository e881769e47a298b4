"""Deployment files parse and reference what exists: metrics, settings, files."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase
from pydantic import SecretStr

from streams.core.address import checked_advertised_url
from streams.core.settings import Settings
from streams.topics import consumed_roles

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
METRIC_MODULES = (
    "streams/core/metrics.py",
    "features/metrics.py",
    "agents/**/metrics.py",
    "sinks/metrics.py",
)
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")


def metric_modules() -> list[str]:
    paths = sorted({p for pattern in METRIC_MODULES for p in ROOT.glob(pattern)})
    return [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths]


def metric_names() -> set[str]:
    """Every family a worker exports, from every metrics module (with sample suffixes)."""
    names: set[str] = set()
    for module in metric_modules():
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def test_metric_names_cover_every_metrics_module() -> None:
    modules = set(metric_modules())
    assert {
        "streams.core.metrics",
        "features.metrics",
        "agents.scoring.metrics",
        "agents.drafting.metrics",
        "agents.drafting.llm.metrics",
        "sinks.metrics",
    } <= modules
    names = metric_names()
    for family in (
        "rapport_stage_latency_seconds_bucket",
        "rapport_table_keys",
        "rapport_llm_requests_total",
        "rapport_llm_errors_total",
        "rapport_llm_request_seconds_bucket",
        "rapport_sink_retry_backlog_rows",
        "rapport_model_prequential",
        "rapport_features_events_total",
    ):
        assert family in names, family


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b(rapport_[a-z_]+)", expr))


def test_alert_rules_parse_and_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {
        "RapportLagGrowing",
        "RapportDeadLetterRate",
        "RapportNoProgress",
        "RapportLLMBreakerOpen",
        "RapportSinkFailing",
        "RapportMemoryGrowing",
        "RapportMemoryHigh",
    } <= {a["alert"] for a in alerts}
    known = metric_names()
    for alert in alerts:
        assert referenced(alert["expr"]) <= known, alert["alert"]
    # the memory alerts read the process collector's RSS, which /metrics serves
    served = generate_latest().decode()
    for alert in alerts:
        for family in re.findall(r"\b(process_[a-z_]+)", alert["expr"]):
            assert f"\n{family} " in served, (alert["alert"], family)


def test_dashboard_parses_and_uses_exported_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "rapport.json").read_text())
    known = metric_names()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        assert referenced(expr) <= known, expr
    used = set().union(*(referenced(e) for e in exprs))
    for family in (  # LLM, sink, models and stage latency each have a panel
        "rapport_llm_requests_total",
        "rapport_llm_request_seconds_bucket",
        "rapport_sink_retry_backlog_rows",
        "rapport_sink_rows_total",
        "rapport_model_prequential",
        "rapport_stage_latency_seconds_bucket",
    ):
        assert family in used, family
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_kubernetes_manifests_reference_existing_settings() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "rapport.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert {"ConfigMap", "Secret", "StatefulSet", "ScaledObject"} <= kinds
    settings = {f"RAPPORT_{n.upper()}" for n in Settings.model_fields}
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            assert set(doc["data"]) <= settings
        if doc["kind"] == "Secret":
            assert set(doc["stringData"]) <= settings
    worker = next(d for d in docs if d["kind"] == "StatefulSet")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    triggers = scaled["spec"]["triggers"]
    defaults = Settings.model_validate({})
    kafka = [t["metadata"] for t in triggers if t["type"] == "kafka"]
    assert {t["consumerGroup"] for t in kafka} == {defaults.app_id}
    # every topic the worker group reads scales it, not only the input topic
    assert sorted(t["topic"] for t in kafka) == sorted(
        defaults.topic_name(role) for role in consumed_roles(defaults)
    )
    # and the age of the oldest unprocessed record, from the workers' own metric
    (seconds,) = [t["metadata"] for t in triggers if t["type"] == "prometheus"]
    assert "rapport_consumer_lag_seconds" in seconds["query"]
    assert "rapport_consumer_lag_seconds" in metric_names()
    # each worker advertises its pod's address: routing reaches the owner
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    advertised = env["RAPPORT_WEB_ADVERTISED_URL"]["value"]
    assert advertised == f"http://$(POD_IP):{config_port(docs)}"


def config_port(docs: list[dict[str, Any]]) -> str:
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    return str(config["RAPPORT_WEB_PORT"])


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name} is defined {len(found)} times"
    return found[0]


def test_kubernetes_references_resolve() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "rapport.yaml").read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    secret = next(d for d in docs if d["kind"] == "Secret")
    # the ConfigMap and the Secret together are valid settings, with every secret set
    env = {**config, **secret["stringData"]}
    settings = Settings.model_validate(
        {k.removeprefix("RAPPORT_").lower(): v for k, v in env.items()}
    )
    secrets = {
        f"RAPPORT_{n.upper()}"
        for n in Settings.model_fields
        if isinstance(getattr(settings, n), SecretStr)
    }
    assert secrets <= set(secret["stringData"])
    assert "RAPPORT_MODELS_CHECKPOINT_KEY" in secret["stringData"]
    # the StatefulSet's serviceName is a headless Service selecting its pods
    worker = next(d for d in docs if d["kind"] == "StatefulSet")
    service = named(docs, "Service", worker["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    # KEDA's authenticationRef is a TriggerAuthentication whose refs exist in the Secret
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    (trigger, *_) = scaled["spec"]["triggers"]
    auth = named(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = auth["spec"]["secretTargetRef"]
    assert {r["parameter"] for r in refs} == {"username", "password"}
    for ref in refs:
        assert named(docs, "Secret", ref["name"]) is secret
        assert ref["key"] in secret["stringData"]
    assert trigger["metadata"]["sasl"] == settings.kafka_sasl_mechanism.lower().replace(
        "-sha-", "_sha"
    )
    assert (trigger["metadata"]["tls"] == "enable") == settings.kafka_security_protocol.endswith(
        "SSL"
    )


def test_compose_workers_advertise_their_own_address() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["worker"]["environment"]
    settings = Settings.model_validate(
        {k.removeprefix("RAPPORT_").lower(): v for k, v in env.items()}
    )
    assert settings.web_host == "0.0.0.0"
    url = checked_advertised_url(settings)  # refused if it were a wildcard
    assert url.endswith(f":{settings.web_port}")
    assert settings.web_advertised_url == "http://{ip}:6066"  # each replica its own IP


def test_compose_mounts_existing_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
