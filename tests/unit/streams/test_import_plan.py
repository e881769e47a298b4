"""``rapport import``'s reading side: mappings, conversion, the contract's refusals, resume marks.

The README's two examples (docs/import/) are read here as a user would import them:
their events are asserted field by field, so the documented mappings stay true.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.events import parse_event
from schemas.validate import Limits
from streams.backfill.mapping import MappingError, parse_mapping
from streams.backfill.plan import Plan, plan
from streams.backfill.resume import Mark, mark_path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "import"
LIMITS = Limits(max_bytes=262_144, max_future_skew_s=300)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def read(path: Path, mapping_text: str) -> Plan:
    return plan(path, parse_mapping(mapping_text), LIMITS, NOW)


def events(found: Plan) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in found.ready]


def test_the_zendesk_example_maps_statuses_priorities_and_tags() -> None:
    found = read(EXAMPLES / "zendesk-tickets.csv", (EXAMPLES / "zendesk-tickets.toml").read_text())
    got = events(found)
    assert found.rows == 6
    # sent in event-time order (the last update), not the file's order
    assert [e["ticket_id"] for e in got] == ["1042", "1041", "1044", "1043", "1045"]
    first_maria = next(e for e in got if e["ticket_id"] == "1041")
    assert first_maria == {
        "source": "zendesk",
        "type": "ticket",
        "event_id": "zendesk-1041",
        "customer_id": "maria.lopez@example.com",
        "occurred_at": "2024-03-02T16:03:10+00:00",
        "ticket_id": "1041",
        "action": "closed",
        "priority": "high",
        "tags": ["damaged", "refund"],
    }
    assert {e["ticket_id"]: (e["action"], e["priority"]) for e in got} == {
        "1041": ("closed", "high"),
        "1042": ("opened", "normal"),
        "1043": ("opened", "urgent"),
        "1044": ("closed", "low"),
        "1045": ("opened", "normal"),  # Zendesk's "-"
    }
    assert [(r.row, r.reason_code) for r in found.refused] == [(6, "missing_column")]
    assert "'Requester email' is empty" in found.refused[0].reason
    assert found.customers() == 3


def test_the_shopify_example_groups_line_items_into_one_order() -> None:
    text = (EXAMPLES / "shopify-orders.toml").read_text()
    found = read(EXAMPLES / "shopify-orders.csv", text)
    got = {e["order_id"]: e for e in events(found)}
    assert sorted(got) == ["1001", "1002", "1003", "1004"]
    first = got["1001"]
    assert first["items"] == [
        {"product_id": "SOCK-TR", "quantity": 2, "unit_price": 9.9},
        {"product_id": "JKT-RAIN", "quantity": 1, "unit_price": 70.0},
    ]
    assert (first["amount"], first["currency"], first["customer_id"]) == (
        89.8,
        "EUR",
        "maria.lopez@example.com",
    )
    assert first["occurred_at"] == "2024-03-01T10:15:30+01:00"
    assert found.rows == 6 and [(r.row, r.reason_code) for r in found.refused] == [(6, "bad_time")]
    # derived ids: the same on a second read, distinct per order, valid for the contract
    again = read(EXAMPLES / "shopify-orders.csv", text)
    assert [r.value for r in again.ready] == [r.value for r in found.ready]
    assert len({e["event_id"] for e in got.values()}) == 4
    for e in got.values():
        assert e["event_id"].startswith("shopify-")
        assert parse_event(orjson.dumps(e)).type == "order"


RATINGS = """source = "survey"
type = "rating"
[fields]
customer_id = "who"
occurred_at = "at"
score = "stars"
comment = "text"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_the_ingest_would_refuse_are_refused_with_its_reason_codes(tmp_path: Path) -> None:
    rows = [
        "who,at,stars,text",
        "c1,2025-06-01T10:00:00Z,5,great",
        "c2,2025-06-01T10:00:00Z,9,too many stars",  # the contract: 1-5
        "c3,2027-01-01T00:00:00Z,4,from the future",  # beyond the skew limit
        "c4,2025-06-01T10:00:00Z,four,a word",
        "c1,2025-06-01T10:00:00Z,5,great",  # the first row again: the same derived id
        "c 5,2025-06-01T11:00:00Z,3,a space in the id",
    ]
    found = read(write(tmp_path, "r.csv", "\n".join(rows) + "\n"), RATINGS)
    assert len(found.ready) == 1
    assert {r.row: r.reason_code for r in found.refused} == {
        2: "out_of_range",
        3: "future_timestamp",
        4: "bad_number",
        5: "duplicate_id",
        6: "bad_format",
    }
    assert found.refused[0].reason.startswith("row 2: rating.score")


def test_jsonl_reads_nested_fields_and_refuses_lines_that_are_not_objects(
    tmp_path: Path,
) -> None:
    mapping = RATINGS.replace('"who"', '"customer.id"')
    lines = [
        orjson.dumps({"customer": {"id": "c1"}, "at": "2025-06-01T10:00:00+02:00", "stars": 4}),
        b"{not json",
        b"[1, 2]",
        orjson.dumps({"customer": {"id": 7}, "at": 1748772000, "stars": 2}),
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    found = read(path, mapping)
    assert [(r.row, r.reason_code) for r in found.refused] == [
        (2, "invalid_json"),
        (3, "invalid_json"),
        (4, "bad_time"),  # an epoch number with the default ISO format
    ]
    assert [e["customer_id"] for e in events(found)] == ["c1"]
    epoch = read(path, mapping.replace('type = "rating"', 'type = "rating"\ntime_format = "epoch"'))
    got = {e["customer_id"]: e for e in events(epoch)}
    assert got["7"]["occurred_at"] == "2025-06-01T10:00:00+00:00"  # a number id as text
    assert got["7"]["score"] == 2


def test_a_type_column_maps_rows_to_several_event_types(tmp_path: Path) -> None:
    text = """source = "crm"
type_from = "kind"
[fields]
customer_id = "who"
occurred_at = "at"
score = "stars"
action = "what"
[values.type]
csat = "rating"
sub = "subscription"
"""
    rows = (
        "kind,who,at,stars,what\n"
        "csat,c1,2025-06-01T10:00:00Z,4,\n"
        "sub,c1,2025-06-02T10:00:00Z,,cancelled\n"
        "fax,c1,2025-06-03T10:00:00Z,,\n"
    )
    found = read(write(tmp_path, "k.csv", rows), text)
    assert [(e["type"], e.get("score"), e.get("action")) for e in events(found)] == [
        ("rating", 4, None),
        ("subscription", None, "cancelled"),
    ]
    assert [(r.row, r.reason_code) for r in found.refused] == [(3, "unmapped_value")]
    assert "'fax' is not in [values.type]" in found.refused[0].reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('source = "x"\ntype = "rating"\nspeed = 3', "unknown key(s) speed"),
        ('source = "x"\ntype = "tweet"', "type 'tweet' is not an event type"),
        ('type = "rating"', "`source` is required"),
        (
            'source = "x"\ntype = "rating"\n[fields]\ncustomer_id = "a"\noccurred_at = "b"\n'
            'amount = "c"',
            "[fields] amount: not field(s) of rating",
        ),
        ('source = "x"\ntype = "rating"\n[fields]\ncustomer_id = "a"', "occurred_at columns"),
        (
            'source = "x"\ntype = "order"\n[fields]\ncustomer_id = "a"\noccurred_at = "b"\n'
            '[items]\nsku = "s"',
            "[items] sku: not order item",
        ),
        ('source = "x" type', "not valid TOML"),
        ('timezone = "Mars/Base"\n' + RATINGS, "not an IANA time zone"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text)
    assert message in str(caught.value)


def test_a_csv_without_a_mapped_column_is_refused_before_any_row(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "who,at,text\nc1,2025-06-01T10:00:00Z,hi\n")
    with pytest.raises(MappingError, match="no column 'stars'"):
        read(path, RATINGS)


def test_a_resume_mark_is_kept_per_file_mapping_and_topic(tmp_path: Path) -> None:
    file = write(tmp_path, "r.csv", "who,at,stars,text\n")
    a = mark_path(tmp_path, file, RATINGS, "t.interactions")
    assert a == mark_path(tmp_path, file, RATINGS, "t.interactions")
    assert a != mark_path(tmp_path, file, RATINGS + "\n", "t.interactions")
    assert a != mark_path(tmp_path, file, RATINGS, "u.interactions")
    Mark(a, total=100).save(40)
    assert Mark(a, total=100).produced == 40
    assert Mark(a, total=99).produced == 0  # another plan: start over
    a.write_text("{half")
    assert Mark(a, total=100).produced == 0
