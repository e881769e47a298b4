"""Deployment files parse and reference what exists: metrics, settings, files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase

from streams import metrics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def metric_names() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.update(
                    s for s in (family.name, family.name + "_total", family.name + "_bucket")
                )
    return names


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b(rapport_[a-z_]+)", expr))


def test_alert_rules_parse_and_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {"RapportLagGrowing", "RapportDeadLetterRate", "RapportNoProgress"} <= {
        a["alert"] for a in alerts
    }
    known = metric_names()
    for alert in alerts:
        assert referenced(alert["expr"]) <= known, alert["alert"]


def test_dashboard_parses_and_uses_exported_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "rapport.json").read_text())
    known = metric_names()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        assert referenced(expr) <= known, expr


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
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    defaults = Settings.model_validate({})
    assert trigger["metadata"]["consumerGroup"] == defaults.app_id
    assert trigger["metadata"]["topic"] == defaults.topic_name("interactions")


def test_compose_mounts_existing_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
