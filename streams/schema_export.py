"""Generate the published contract files: JSON Schemas and an AsyncAPI 3.0 document.

The files under ``schemas/jsonschema/`` and ``schemas/asyncapi.json`` are generated
from the pydantic models and the topic specs, and committed so that producers and
consumers in other languages can read the contract. ``export_all`` rewrites them,
``check_all`` names the ones that drifted from the models (``rapport schemas check``).

>>> files = render_all()
>>> sorted(files)[:3]
['asyncapi.json', 'jsonschema/agent_label.json', 'jsonschema/cart_change.json']
>>> files["jsonschema/rating.json"].endswith("}\\n")
True
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from schemas.events import EVENT_ADAPTER, EVENT_TYPES, SCHEMA_VERSION, Envelope
from streams.core.kafka_client import brokers
from streams.core.settings import Settings
from streams.topics import TopicSpec, topic_specs

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
JSONSCHEMA_SUBDIR = "jsonschema"
ASYNCAPI_FILE = "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"
EVENT_SCHEMA = "Event"

JsonObject = dict[str, Any]


def default_settings() -> Settings:
    """Default settings, deliberately blind to ``RAPPORT_*`` env vars and ``.env``.

    The committed files describe the defaults, so a developer's environment must not
    make ``check_all`` report drift.
    """
    return Settings.model_construct()


def render_all() -> dict[str, str]:
    """Every generated file, as ``{path relative to the schemas dir: text}``."""
    specs = topic_specs(default_settings())
    files = {
        f"{JSONSCHEMA_SUBDIR}/{name}.json": _render(schema)
        for name, schema in json_schemas(specs).items()
    }
    files[ASYNCAPI_FILE] = _render(asyncapi_document(specs))
    return dict(sorted(files.items()))


def export_all(out_dir: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every generated file under ``out_dir``, delete stale schemas; return the paths."""
    files = render_all()
    (out_dir / JSONSCHEMA_SUBDIR).mkdir(parents=True, exist_ok=True)
    for stale in _stale(out_dir, files):
        (out_dir / stale).unlink()
    written = []
    for rel, text in files.items():
        path = out_dir / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_all(out_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Relative names of the files under ``out_dir`` that are missing, stale or out of date."""
    files = render_all()
    drift = _stale(out_dir, files)
    for rel, text in files.items():
        path = out_dir / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            drift.append(rel)
    return sorted(drift)


def json_schemas(specs: list[TopicSpec]) -> dict[str, JsonObject]:
    """One standalone JSON Schema per event type, for the ``Event`` union and per record."""
    out: dict[str, JsonObject] = {}
    for model in EVENT_TYPES:
        out[_snake(model.__name__)] = _standalone(model.model_json_schema(mode="validation"))
    union = EVENT_ADAPTER.json_schema(mode="validation")
    union["title"] = EVENT_SCHEMA
    union["description"] = "Any inbound event; the `type` field selects the record."
    out[_snake(EVENT_SCHEMA)] = _standalone(union)
    for record in _published(specs):
        out[_snake(record.__name__)] = _standalone(record.model_json_schema(mode="serialization"))
    return dict(sorted(out.items()))


def asyncapi_document(specs: list[TopicSpec]) -> JsonObject:
    """AsyncAPI 3.0: one channel per topic (address = topic name), Kafka bindings."""
    settings = default_settings()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rapport",
            "version": SCHEMA_VERSION,
            "description": (
                "Real-time customer-intelligence engine. Producers write interactions; "
                "Rapport validates them and publishes events, dead letters, features, "
                "insights, reply requests and drafted replies. Consumers ignore unknown "
                "fields; producers only add optional fields within a major schema_version."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": brokers(settings)[0],
                "protocol": "kafka",
                "description": "The local stack's broker (default settings).",
            },
        },
        "channels": {spec.role: _channel(spec, settings) for spec in specs},
        "operations": {_operation_id(spec): _operation(spec) for spec in specs},
        "components": {
            "messages": {spec.role: _message(spec) for spec in specs},
            "schemas": _components_schemas(specs),
        },
    }


def _channel(spec: TopicSpec, settings: Settings) -> JsonObject:
    return {
        "address": spec.name,
        "title": spec.role,
        "description": spec.description,
        "messages": {spec.role: {"$ref": f"#/components/messages/{spec.role}"}},
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "replicas": settings.topic_replication,
                "topicConfiguration": {
                    "cleanup.policy": ["compact"] if spec.compacted else ["delete"],
                    "retention.ms": spec.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            },
        },
    }


def _message(spec: TopicSpec) -> JsonObject:
    schema = _schema_name(spec.value)
    return {
        "name": schema,
        "title": f"{schema} on {spec.name}",
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{schema}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": spec.key},
                "bindingVersion": KAFKA_BINDING_VERSION,
            },
        },
    }


def _operation(spec: TopicSpec) -> JsonObject:
    inbound = spec.role == "interactions"
    return {
        "action": "receive" if inbound else "send",
        "channel": {"$ref": f"#/channels/{spec.role}"},
        "summary": ("Rapport consumes " if inbound else "Rapport publishes ") + spec.name,
        "messages": [{"$ref": f"#/channels/{spec.role}/messages/{spec.role}"}],
    }


def _operation_id(spec: TopicSpec) -> str:
    verb = "receive" if spec.role == "interactions" else "send"
    return verb + "".join(part.title() for part in spec.role.split("_"))


def _components_schemas(specs: list[TopicSpec]) -> JsonObject:
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (EVENT_SCHEMA, "validation", EVENT_ADAPTER)
    ]
    inputs += [(r.__name__, "serialization", TypeAdapter(r)) for r in _published(specs)]
    keyed, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    schemas: JsonObject = dict(defs.get("$defs", {}))
    schemas[EVENT_SCHEMA] = keyed[(EVENT_SCHEMA, "validation")]
    converted: JsonObject = _asyncapi_discriminators(dict(sorted(schemas.items())))
    return converted


def _asyncapi_discriminators(node: Any) -> Any:
    """AsyncAPI Schema's ``discriminator`` is a property name, not OpenAPI's object."""
    if isinstance(node, dict):
        out = {k: _asyncapi_discriminators(v) for k, v in node.items()}
        if isinstance(out.get("discriminator"), dict):
            out["discriminator"] = out["discriminator"]["propertyName"]
        return out
    if isinstance(node, list):
        return [_asyncapi_discriminators(v) for v in node]
    return node


def _published(specs: list[TopicSpec]) -> list[type[BaseModel]]:
    """Record models of the topics Rapport publishes, in first-seen order, without events."""
    seen: dict[str, type[BaseModel]] = {}
    for spec in specs:
        if not issubclass(spec.value, Envelope):
            seen.setdefault(spec.value.__name__, spec.value)
    return list(seen.values())


def _schema_name(value: type[BaseModel]) -> str:
    return EVENT_SCHEMA if issubclass(value, Envelope) else value.__name__


def _standalone(schema: JsonObject) -> JsonObject:
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _stale(out_dir: Path, files: dict[str, str]) -> list[str]:
    folder = out_dir / JSONSCHEMA_SUBDIR
    if not folder.is_dir():
        return []
    present = {f"{JSONSCHEMA_SUBDIR}/{p.name}" for p in folder.glob("*.json")}
    return sorted(present - files.keys())


def _render(document: JsonObject) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
