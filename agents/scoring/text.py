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
  ``rating``; no insight is published for it;
- ``draft_feedback`` (a reviewer's verdict on a reply draft, whose id is
  ``draft-{message event id}``): ``accepted`` confirms the intent the draft was written
  for, ``agents.drafting.llm.intent.detect`` of the message (the reply-request agent's own
  detector, so the same label), as an intent label on that message: learnt like a
  ``label`` event, monitored as segment ``feedback``. ``edited`` and ``rejected`` give
  no label (an edit may change the topic as well as the wording; a rejection says the
  draft missed, not what the message was), nor does an accepted draft whose intent the
  detector could not name (``other``). The feedback schema carries no rating or
  sentiment, so feedback never gives a sentiment label. A draft whose message is no
  longer among the recent texts (or an engagement draft: no message) is ``unmatched``.
  Counted per verdict and outcome (``rapport_scoring_feedback_total``).

An inbound message without words (empty, blank, punctuation only) still gets both
insights (the class prior, ``reason: no text features``), is counted
(``rapport_scoring_bad_input_total{reason="empty_text"}``) and does not move the trend.

Outbound messages (the agents' own) are not scored.
"""

from __future__ import annotations

from typing import Final

from agents.drafting.llm.intent import ACKNOWLEDGEMENT, OTHER, detect
from agents.scoring import metrics as sm
from agents.scoring.inputs import polarity, rating_label, trend
from agents.scoring.publish import UNKNOWN, insight
from agents.scoring.state import PartitionModels
from agents.scoring.turn import Turn
from online_models.text_features import normalise, tokens
from schemas.events import AgentLabel, DraftFeedback, Message, Rating
from schemas.examples import Example

TEXT_MODELS: Final = ("sentiment", "intent")
DRAFT_PREFIX: Final = "draft-"
"""A reply draft's id is this prefix and the drafted message's event id."""
UNNAMED: Final = frozenset({OTHER, ACKNOWLEDGEMENT})
"""Detected intents that are no label (nothing recognised, or nothing to answer)."""


def message(turn: Turn, event: Message) -> None:
    """Score an inbound message with both text models (module docstring)."""
    if event.direction != "inbound":
        return
    models = turn.models
    x = {"text": event.text}
    extra: dict[str, str] = {"channel": event.channel}
    if models.snapshot is not None:  # which warm-start snapshot the text models began from
        extra["snapshot"] = models.snapshot
    empty = not event.text.strip() or not tokens(normalise(event.text))
    for name in TEXT_MODELS:
        model = models.models[name]
        found = model.predict_one(x)
        if found.value is None:
            sm.ABSTAINED.labels(name).inc()
        if empty:
            sm.BAD_INPUT.labels(name, "empty_text").inc()
        turn.publish(insight(event, name, model.version, found, turn.now, extra=extra))
        if name == "sentiment" and turn.learn and not empty:
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


def feedback(turn: Turn, event: DraftFeedback) -> None:
    """A reviewer's verdict on a reply draft (module docstring)."""
    verdict = event.verdict
    if not turn.learn:
        sm.FEEDBACK.labels(verdict, "replayed").inc()
        return
    if verdict != "accepted":
        sm.FEEDBACK.labels(verdict, "no_label").inc()
        return
    message_id = event.draft_id.removeprefix(DRAFT_PREFIX)
    found = turn.models.text_of(event.customer_id, message_id)
    if found is None:
        sm.LABELS.labels("intent", "unmatched").inc()
        sm.FEEDBACK.labels(verdict, "unmatched").inc()
        return
    _, text = found
    intent = event.intent or detect(text)  # the draft's own intent, when the verdict says
    if intent in UNNAMED:
        sm.FEEDBACK.labels(verdict, "no_label").inc()
        return
    learnt = _learn(turn, "intent", text, intent, "feedback")
    sm.FEEDBACK.labels(verdict, "learnt" if learnt else "refused").inc()


def _learn(turn: Turn, kind: str, text: str, value: str, segment: str) -> bool:
    model = turn.models.models[kind]
    x = {"text": text}
    before = model.predict_one(x).value
    if not model.learn_one(x, value):
        sm.LABELS.labels(kind, "refused").inc()
        return False
    sm.LABELS.labels(kind, "learnt").inc()
    truth = value.strip().lower() if kind == "sentiment" else value.strip()
    turn.monitor(kind, truth, UNKNOWN if before is None else str(before), segment)
    example_id = f"{turn.event.event_id}:{kind}"
    turn.models.examples.put(example_id, True)
    turn.examples.append(Example(example_id, kind, text, value, turn.models.partition))
    return True


def learn_example(models: PartitionModels, example: Example) -> bool:
    """Learn a labelled example another partition learnt first (``schemas.examples``);
    ``False`` for an unknown model, the partition's own example or one learnt already."""
    model = models.models.get(example.model)
    if (
        example.model not in TEXT_MODELS
        or model is None
        or example.origin == models.partition
        or models.examples.get(example.example_id) is not None
    ):
        return False
    models.examples.put(example.example_id, True)
    learnt = model.learn_one({"text": example.text}, example.label)
    sm.LABELS.labels(example.model, "shared" if learnt else "refused").inc()
    return learnt
