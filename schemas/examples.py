"""Labelled text examples shared by every partition's text models, carried on ``events``.

A worker keeps one model set per partition of ``events``; a label (an agent's tag on a
message, a rating's comment, an accepted draft) arrives on the partition of its
customer, where the message's text is. So that the sentiment and intent models of every
partition learn from every label, the scoring stage that learnt an example sends a copy
to each other partition of ``events``, keyed ``#example`` (no customer id holds ``#``).
Each partition learns the copies in its own log order, so its models stay a function of
its log (checkpoints, redelivery and rewinds work as for events), and skips an example id
it learnt already (a redelivered label sends its copies again).

Every other reader of ``events`` skips these records (:func:`is_example`): they are no
interaction, hold no customer id, and only the scoring stage reads them. The text is the
labelled message's (or comment's) text, as the ``message`` event on ``events`` holds it.

>>> ex = Example("l1:intent", "intent", "where is my card", "card_arrival", 3)
>>> Example.decode(ex.encode()) == ex, is_example(EXAMPLE_KEY), is_example(b"#models")
(True, True, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

import orjson

EXAMPLE_KEY: Final = b"#example"


def is_example(key: bytes | None) -> bool:
    return key == EXAMPLE_KEY


@dataclass(frozen=True, slots=True)
class Example:
    example_id: str
    """The label's event id and the model (``{event_id}:{model}``): the same on a resend."""
    model: str
    text: str
    label: str
    origin: int
    """The partition that learnt it first (it does not learn its own copy again)."""

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | None) -> Example:
        """The example of a record; ValueError when it is not one."""
        try:
            found = orjson.loads(raw or b"")
            return cls(
                str(found["example_id"]),
                str(found["model"]),
                str(found["text"]),
                str(found["label"]),
                int(found["origin"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            msg = f"not a model example: {exc}"
            raise ValueError(msg) from exc
