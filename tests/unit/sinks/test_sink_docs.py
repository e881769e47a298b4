"""docs/analysts.md documents exactly the example queries ``rapport sql --examples`` prints."""

from __future__ import annotations

from pathlib import Path

from sinks.clickhouse.queries import EXAMPLES

README = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"


def _words(text: str) -> str:
    return " ".join(text.split())


def test_every_example_query_is_in_the_readme() -> None:
    readme = _words(README.read_text())
    missing = [name for name, (doc, sql) in EXAMPLES.items()
               if f"-- {doc} {_words(sql)};" not in readme]  # fmt: skip
    assert missing == []
