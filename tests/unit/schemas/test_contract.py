"""The published contract: committed schema files, compatibility rule, JSON round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.events import EVENT_TYPES, Envelope, parse_event
from schemas.published import DeadLetter
from schemas.validate import Rejection, check
from streams import cli
from streams.schema_export import (
    ASYNCAPI_FILE,
    SCHEMAS_DIR,
    check_all,
    default_settings,
    export_all,
    render_all,
)
from streams.topics import topic_specs
from tests.corpus import DEFAULT_LIMITS, sample_event, type_tag

REGENERATE = "run `rapport schemas export` and commit the result"


def _occurred() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def _rating(**fields: Any) -> bytes:
    event = sample_event("rating", event_id="e-1", customer_id="c-1", occurred_at=_occurred())
    return orjson.dumps(event | fields)


# --- committed files


def test_committed_files_match_the_models(tmp_path: Path) -> None:
    generated = [path.relative_to(tmp_path) for path in export_all(tmp_path)]
    assert generated, "nothing generated"
    committed = {rel: SCHEMAS_DIR / rel for rel in generated}
    drifted = [
        str(rel)
        for rel, path in committed.items()
        if not path.is_file() or path.read_bytes() != (tmp_path / rel).read_bytes()
    ]
    assert drifted == [], REGENERATE
    assert check_all(SCHEMAS_DIR) == [], REGENERATE  # also: no stale committed schema


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path) -> None:
    export_all(tmp_path)
    assert check_all(tmp_path) == []
    (tmp_path / "jsonschema" / "rating.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "jsonschema" / "order.json").unlink()
    (tmp_path / "jsonschema" / "refund.json").write_text("{}\n", encoding="utf-8")
    assert check_all(tmp_path) == [
        "jsonschema/order.json",
        "jsonschema/rating.json",
        "jsonschema/refund.json",
    ]
    export_all(tmp_path)
    assert check_all(tmp_path) == []
    assert not (tmp_path / "jsonschema" / "refund.json").exists()


def test_generated_files_are_deterministic_sorted_json() -> None:
    files = render_all()
    assert files == render_all()
    assert len(files) == 1 + len(EVENT_TYPES) + 1 + 5
    for text in files.values():
        document = json.loads(text)
        assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_one_json_schema_per_event_type_and_one_for_the_union() -> None:
    files = render_all()
    tags = set()
    for model in EVENT_TYPES:
        schema = json.loads(files[f"jsonschema/{_snake(model.__name__)}.json"])
        tags.add(schema["properties"]["type"]["const"])
        assert {"event_id", "customer_id", "occurred_at", "type"} <= set(schema["required"])
    union = json.loads(files["jsonschema/event.json"])
    assert set(union["discriminator"]["mapping"]) == tags == {type_tag(m) for m in EVENT_TYPES}


def test_asyncapi_describes_every_topic() -> None:
    doc = json.loads(render_all()[ASYNCAPI_FILE])
    specs = topic_specs(default_settings())
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {spec.role for spec in specs}
    for spec in specs:
        channel = doc["channels"][spec.role]
        kafka = channel["bindings"]["kafka"]
        assert channel["address"] == spec.name == kafka["topic"]
        assert kafka["partitions"] == spec.partitions
        config = kafka["topicConfiguration"]
        assert config["retention.ms"] == spec.retention_ms
        assert config["cleanup.policy"] == (["compact"] if spec.compacted else ["delete"])
        (message,) = (_resolve(doc, ref["$ref"]) for ref in channel["messages"].values())
        assert message["bindings"]["kafka"]["key"]["description"] == spec.key
        payload = _resolve(doc, message["payload"]["$ref"])
        expected = "Event" if issubclass(spec.value, Envelope) else spec.value.__name__
        assert payload == doc["components"]["schemas"][expected]
    for ref in _refs(doc):
        _resolve(doc, ref)  # every reference points at something


# --- compatibility rule (schemas/events.py docstring)


def test_unknown_fields_are_ignored() -> None:
    event = parse_event(_rating(loyalty_tier="gold", nested={"a": [1, 2]}))
    assert event.type == "rating"
    assert "loyalty_tier" not in event.model_dump()
    assert not hasattr(event, "loyalty_tier")


def test_a_newer_minor_version_with_an_extra_optional_field_is_read() -> None:
    raw = _rating(schema_version="1.7", sentiment_hint="positive")
    event = parse_event(raw)
    assert (event.schema_version, event.type) == ("1.7", "rating")
    assert event.model_dump().keys() == parse_event(_rating()).model_dump().keys()
    assert not isinstance(check(raw, b"c-1", datetime.now(UTC), DEFAULT_LIMITS), Rejection)


def test_a_missing_schema_version_means_the_current_one() -> None:
    fields = sample_event("rating", event_id="e-1", customer_id="c-1", occurred_at=_occurred())
    del fields["schema_version"]
    assert parse_event(orjson.dumps(fields)).schema_version == "1.0"


@pytest.mark.parametrize("version", ["2.0", "0.9", "10.0", "1", "1.x"])
def test_another_major_version_is_rejected(version: str) -> None:
    raw = _rating(schema_version=version)
    with pytest.raises(ValidationError) as info:
        parse_event(raw)
    assert info.value.errors()[0]["loc"] == ("rating", "schema_version")
    result = check(raw, b"c-1", datetime.now(UTC), DEFAULT_LIMITS)
    assert isinstance(result, Rejection)
    assert result.reason.startswith("rating.schema_version:")


def test_published_records_ignore_unknown_fields_too() -> None:
    letter = DeadLetter.build(
        raw=b"\xff",
        key=None,
        reason="payload: invalid UTF-8 at byte 0",
        reason_code="invalid_utf8",
        topic="t",
        partition=0,
        offset=3,
        now=datetime.now(UTC),
    )
    newer = orjson.loads(letter.model_dump_json()) | {"schema_version": "1.3", "trace": "x"}
    assert DeadLetter.model_validate_json(orjson.dumps(newer)).original_bytes() == b"\xff"


# --- JSON round trip of every event type


@pytest.mark.parametrize("model", EVENT_TYPES, ids=[m.__name__ for m in EVENT_TYPES])
def test_every_event_type_round_trips_through_orjson(model: type[Envelope]) -> None:
    fields = sample_event(
        type_tag(model),
        event_id="e-rt-1",
        customer_id="c-rt-1",
        occurred_at=datetime(2026, 3, 4, 5, 6, 7, 890_123, tzinfo=UTC),
    )
    instance = model.model_validate(fields)
    dumped = instance.model_dump()
    assert None not in dumped.values(), "populate every optional field"
    assert set(dumped) == set(model.model_fields)
    parsed = parse_event(orjson.dumps(dumped))
    assert type(parsed) is model
    assert parsed == instance


def test_round_trip_keeps_the_instant_across_offsets() -> None:
    local = datetime(2026, 3, 4, 8, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    fields = sample_event("rating", event_id="e-1", customer_id="c-1", occurred_at=local)
    raw = orjson.dumps(fields)
    assert b'"2026-03-04T08:06:07+02:00"' in raw
    assert parse_event(raw).occurred_at == datetime(2026, 3, 4, 6, 6, 7, tzinfo=UTC)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_schemas_check_command_reads_the_committed_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["schemas", "check"]) == 0, capsys.readouterr().out
    assert "drift" not in capsys.readouterr().out
