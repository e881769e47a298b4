"""The message models in the scoring stage: sentiment and intent, and their labels.

- inbound ``message``: sentiment and intent predicted from the text, one insight
  each; the text is kept among the customer's recent ones (``PartitionModels.texts``)
  and ``sentiment_trend`` moves by the message's polarity (``scoring_inputs.trend``);
- ``label`` (an agent's tag on an earlier message): prequential, the model predicts
  the message again, the monitor records ``(label, prediction)`` per channel, then
  the model learns; a label whose message is no longer among the recent texts is
  counted as unmatched;
- ``rating`` with a comment: the comment is a weakly labelled sentiment example
  (``scoring_inputs.rating_label``), predict-then-learn, monitored as segment
  ``rating``; no insight is published for it.

Outbound messages (the agents' own) are not scored.
"""

from __future__ import annotations

from typing import Final

from agents import scoring_metrics as sm
from agents.scoring_inputs import polarity, rating_label, trend
from agents.scoring_publish import UNKNOWN, insight
from agents.scoring_turn import Turn
from schemas.events import AgentLabel, Message, Rating

TEXT_MODELS: Final = ("sentiment", "intent")


def message(turn: Turn, event: Message) -> None:
    """Score an inbound message with both text models (module docstring)."""
    if event.direction != "inbound":
        return
    models = turn.models
    x = {"text": event.text}
    extra = {"channel": event.channel}
    for name in TEXT_MODELS:
        model = models.models[name]
        found = model.predict_one(x)
        if found.value is None:
            sm.ABSTAINED.labels(name).inc()
        turn.publish(insight(event, name, model.version, found, turn.now, extra=extra))
        if name == "sentiment" and turn.learn:
            _move_trend(turn, polarity(found.value, found.confidence))
    if turn.learn:
        models.remember_text(event.customer_id, event.event_id, event.channel, event.text)


def _move_trend(turn: Turn, value: float | None) -> None:
    if value is None:
        return
    vector = turn.vector()
    previous = None if vector is None else vector.get("sentiment_trend")
    before = previous if isinstance(previous, int | float) else None
    turn.outputs["sentiment_trend"] = trend(before, value)


def label(turn: Turn, event: AgentLabel) -> None:
    """Learn from an agent's label on one of the customer's recent messages."""
    kind = event.kind
    if not turn.learn:
        sm.LABELS.labels(kind, "replayed").inc()
        return
    found = turn.models.text_of(event.customer_id, event.message_event_id)
    if found is None:
        sm.LABELS.labels(kind, "unmatched").inc()
        return
    channel, text = found
    _learn(turn, kind, text, event.value, channel)


def rating(turn: Turn, event: Rating) -> None:
    """A rating's comment as a weakly labelled sentiment example."""
    if turn.learn and event.comment and event.comment.strip():
        _learn(turn, "sentiment", event.comment, rating_label(event.score), "rating")


def _learn(turn: Turn, kind: str, text: str, value: str, segment: str) -> None:
    model = turn.models.models[kind]
    x = {"text": text}
    before = model.predict_one(x).value
    if not model.learn_one(x, value):
        sm.LABELS.labels(kind, "refused").inc()
        return
    sm.LABELS.labels(kind, "learnt").inc()
    truth = value.strip().lower() if kind == "sentiment" else value.strip()
    turn.monitor(kind, truth, UNKNOWN if before is None else str(before), segment)
