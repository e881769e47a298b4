"""Replay sources over real text datasets: airline tweets, Bitext and BANKING77.

Each customer message becomes an inbound ``message`` event followed, a few minutes
later, by the agent's ``label`` event (sentiment for tweets, intent for Bitext and
BANKING77) pointing back at it with ``message_event_id``. Event ids are
``f"{source}-{row}-message"`` / ``f"{source}-{row}-label"``, ``row`` being the
0-based data row of the file: the same for every seed and every run.

Tweets.csv is licensed for non-commercial use only, so it is never vendored: it is
read from ``../shared/data/Tweets.csv`` (relative to the repository root) unless
another path is given. Bitext and BANKING77 are read from the repository's ``data/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Final

from streams.replay.base import (
    AGENTS,
    DATA_DIR,
    REPO_ROOT,
    ReplayError,
    ReplayRecord,
    arrivals,
    check_options,
    clean_text,
    envelope,
    read_rows,
    resolve,
    take,
    to_id,
    with_followups,
)

TWEETS_PATH: Final = REPO_ROOT.parent / "shared" / "data" / "Tweets.csv"
BITEXT_PATH: Final = DATA_DIR / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
BANKING77_PATH: Final = DATA_DIR / "banking77_train.csv"

TWEET_LABEL_DELAY_MIN: Final = (5.0, 120.0)
"""A tweet's sentiment label arrives this many minutes (uniform, seeded) after it."""
UTTERANCE_LABEL_DELAY_MIN: Final = (1.0, 10.0)
"""A Bitext / BANKING77 intent label arrives this many minutes after its message."""
UTTERANCE_MEAN_GAP_S: Final = 60.0
"""Mean seconds between two Bitext / BANKING77 messages (exponential gaps)."""
UTTERANCES_PER_CUSTOMER: Final = 3
"""Bitext / BANKING77 rows per synthetic customer, on average."""

_TWEET_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S %z"
Pair = tuple[ReplayRecord, list[ReplayRecord]]


def _message_and_label(
    source: str,
    row: int,
    customer: str,
    when: datetime,
    *,
    message: dict[str, str],
    label: tuple[str, str, float],
    rnd: Random,
) -> Pair:
    """An inbound message and its label ``(kind, value, delay_minutes)``."""
    message_id = f"{source}-{row}-message"
    event = envelope("message", message_id, customer, when, source)
    event.update(direction="inbound", **message)
    kind, value, delay = label
    label_at = when + timedelta(minutes=delay)
    tag = envelope("label", f"{source}-{row}-label", customer, label_at, source)
    tag.update(message_event_id=message_id, kind=kind, value=value, agent_id=rnd.choice(AGENTS))
    return ReplayRecord(when, customer, event), [ReplayRecord(label_at, customer, tag)]


def _tweet_time(raw: str, row: int) -> datetime:
    try:
        return datetime.strptime(raw, _TWEET_TIME_FORMAT)
    except ValueError as exc:
        raise ReplayError(f"Tweets.csv row {row}: bad tweet_created {raw!r}") from exc


def _tweet_pair(row: int, fields: dict[str, str], when: datetime, rnd: Random) -> Pair:
    customer = to_id(fields["name"], fallback=f"tweets-anon-{row}")
    message = {
        "channel": "social",
        "conversation_id": to_id(f"tweets-{fields['tweet_id']}", fallback=f"tweets-row-{row}"),
        "text": clean_text(fields["text"]),
    }
    delay = rnd.uniform(*TWEET_LABEL_DELAY_MIN)
    label = ("sentiment", fields["airline_sentiment"], delay)
    return _message_and_label("tweets", row, customer, when, message=message, label=label, rnd=rnd)


def tweets(
    path: Path | str | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    start: datetime | None = None,
) -> Iterator[ReplayRecord]:
    """Twitter US Airline Sentiment: tweets at their real time, sentiment labels later.

    The author ``name`` is the customer id; each tweet is an inbound ``social``
    message at its ``tweet_created`` time (offset kept), and its sentiment label
    follows after a seeded 5-120 minutes. ``start=None`` keeps the real 2015 times;
    a ``start`` shifts the whole timeline (gaps kept) so the first tweet is at it.
    """
    check_options(limit, start)
    rows = read_rows(
        resolve(path, TWEETS_PATH),
        ("tweet_id", "name", "text", "tweet_created", "airline_sentiment"),
    )
    timed = sorted(
        (_tweet_time(fields["tweet_created"], row), row) for row, fields in enumerate(rows)
    )
    shift = timedelta(0) if start is None or not timed else start - timed[0][0]
    rnd = Random(seed)
    pairs = (_tweet_pair(row, rows[row], when + shift, rnd) for when, row in timed)
    return take(with_followups(pairs), limit)


def _utterances(
    source: str,
    rows: list[tuple[str, str]],
    *,
    seed: int,
    limit: int | None,
    start: datetime,
) -> Iterator[ReplayRecord]:
    """Seeded replay of ``(text, intent)`` rows: shuffled order, customers and times."""
    rnd = Random(seed)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    customers = max(1, len(rows) // UTTERANCES_PER_CUSTOMER)
    times = arrivals(rnd, start, UTTERANCE_MEAN_GAP_S)

    def pair(row: int) -> Pair:
        text, intent = rows[row]
        customer = f"{source}-cust-{rnd.randrange(customers):05d}"
        message = {
            "channel": rnd.choice(("chat", "email")),
            "conversation_id": f"{source}-conv-{row}",
            "text": clean_text(text),
        }
        label = ("intent", intent, rnd.uniform(*UTTERANCE_LABEL_DELAY_MIN))
        when = next(times)
        return _message_and_label(
            source, row, customer, when, message=message, label=label, rnd=rnd
        )

    return take(with_followups(pair(row) for row in order), limit)


def bitext(
    path: Path | str | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    start: datetime | None = None,
) -> Iterator[ReplayRecord]:
    """Bitext customer-support utterances as chat/email messages with intent labels.

    The dataset has no customers and no times, so both come from the seed: rows are
    replayed in a seeded shuffled order (the file is grouped by intent), one message
    every ``UTTERANCE_MEAN_GAP_S`` seconds on average (exponential gaps) from
    ``start``, each from a customer drawn uniformly from ``rows // 3`` ids
    ``bitext-cust-NNNNN`` on a seeded channel (chat or email); its ``intent`` label
    follows 1-10 minutes later. Reference replies: :func:`bitext_references`.
    """
    first = check_options(limit, start)
    rows = read_rows(resolve(path, BITEXT_PATH), ("instruction", "intent"))
    pairs = [(fields["instruction"], fields["intent"]) for fields in rows]
    return _utterances("bitext", pairs, seed=seed, limit=limit, start=first)


def bitext_messages(path: Path | str | None = None) -> dict[str, dict[str, str]]:
    """Every Bitext row (``instruction``, ``intent``, ``response``) by the event id its
    message gets in a replay (to score the drafts of a replay)."""
    rows = read_rows(resolve(path, BITEXT_PATH), ("instruction", "intent", "response"))
    return {f"bitext-{row}-message": fields for row, fields in enumerate(rows)}


def bitext_references(path: Path | str | None = None) -> dict[str, str]:
    """The reference agent ``response`` per Bitext message event id (to score drafts)."""
    return {event_id: row["response"] for event_id, row in bitext_messages(path).items()}


def banking77(
    path: Path | str | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    start: datetime | None = None,
) -> Iterator[ReplayRecord]:
    """BANKING77 queries as chat/email messages with intent (``category``) labels.

    Customers, channels, order and times are assigned from the seed exactly as for
    :func:`bitext` (ids ``banking77-cust-NNNNN``).
    """
    first = check_options(limit, start)
    rows = read_rows(resolve(path, BANKING77_PATH), ("text", "category"))
    pairs = [(fields["text"], fields["category"]) for fields in rows]
    return _utterances("banking77", pairs, seed=seed, limit=limit, start=first)
