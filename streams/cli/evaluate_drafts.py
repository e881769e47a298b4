"""Drafted replies scored against Bitext's reference responses (``rapport evaluate --drafts``).

Each sampled Bitext utterance goes through the real drafter (neutralise, redact, prompt,
LLM call, restore, guardrails) as an inbound chat message with its labelled intent, and
the draft is compared with the dataset's reference response by the cosine similarity of
their TF-IDF vectors (lower-cased words of two letters or more; the IDF is fitted on
every reference response of the file, so the boilerplate all of them share, "I
understand", "please follow these steps", weighs little). Two baselines are scored in the
same run: the intent template the drafter falls back to, and the reference response of
another utterance with a different intent (long text in the same style: it shares more
words with a reference than a short draft does, so it is no floor). Relevance shows in
the drafts' similarity to their own reference against another intent's.

>>> sim = Similarity(["your order is on its way", "your refund is on its way", "hello"])
>>> round(sim("Your order ships today", "your order is on its way"), 3)
0.34
>>> sim("", "anything"), sim("same words", "Same words!")
(0.0, 1.0)
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Final

from agents.drafting.llm.drafter import Drafter, Request
from agents.drafting.llm.templates import fallback_text
from streams.replay.datasets import bitext_messages

WORD: Final = re.compile(r"[a-z][a-z']+")


class Similarity:
    """TF-IDF cosine with the IDF of ``corpus`` (smoothed: unseen words weigh most)."""

    def __init__(self, corpus: Sequence[str]) -> None:
        docs = Counter(w for text in corpus for w in set(WORD.findall(text.lower())))
        n = len(corpus)
        self.idf = {w: math.log((1 + n) / (1 + df)) + 1.0 for w, df in docs.items()}
        self.unseen = math.log(1 + n) + 1.0

    def vector(self, text: str) -> dict[str, float]:
        counts = Counter(WORD.findall(text.lower()))
        return {w: c * self.idf.get(w, self.unseen) for w, c in counts.items()}

    def __call__(self, a: str, b: str) -> float:
        va, vb = self.vector(a), self.vector(b)
        dot = sum(x * vb.get(w, 0.0) for w, x in va.items())
        norm = math.sqrt(sum(x * x for x in va.values())) * math.sqrt(
            sum(x * x for x in vb.values())
        )
        return min(1.0, dot / norm) if norm else 0.0


@dataclass(frozen=True)
class Sample:
    text: str
    intent: str
    reference: str


@dataclass(frozen=True)
class Drafted:
    """One draft to score: from the drafter, or a row of the ``drafts`` table."""

    request_id: str
    text: str
    fallback: bool
    flagged: bool
    latency_ms: float


@dataclass
class DraftReport:
    """Per-sample similarities and the drafter's outcomes."""

    llm: list[float] = field(default_factory=list)
    llm_other: list[float] = field(default_factory=list)
    """The same drafts against another intent's reference: relevance, not style."""
    template: list[float] = field(default_factory=list)
    other_reference: list[float] = field(default_factory=list)
    fallbacks: int = 0
    flagged: int = 0
    latency_ms: list[float] = field(default_factory=list)
    examples: list[tuple[str, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        def mean(values: Sequence[float]) -> str:
            return f"{statistics.mean(values):.3f}" if values else "-"

        n = len(self.template)
        p50 = f"{statistics.median(self.latency_ms):,.0f} ms" if self.latency_ms else "-"
        return [
            f"drafts vs Bitext reference responses, {n} utterances (TF-IDF cosine, mean):",
            f"  LLM drafts (not fallback)      {mean(self.llm)}  ({len(self.llm)} drafts)",
            f"    the same drafts vs another intent's reference  {mean(self.llm_other)}",
            f"  intent template (fallback)     {mean(self.template)}",
            f"  another intent's reference     {mean(self.other_reference)}  (long, same style)",
            f"  fallbacks {self.fallbacks}, drafts with guardrail flags {self.flagged}, "
            f"median latency {p50}",
        ]


def bitext_samples(path: Path, n: int, seed: int) -> tuple[list[Sample], Similarity]:
    """``n`` seeded rows of the Bitext CSV, and the similarity fitted on all responses."""
    by_id, sim = bitext_by_message_id(path)
    rows = list(by_id.values())
    return Random(seed).sample(rows, min(n, len(rows))), sim


def _other(samples: Sequence[Sample], i: int) -> str:
    for step in range(1, len(samples)):
        candidate = samples[(i + step) % len(samples)]
        if candidate.intent != samples[i].intent:
            return candidate.reference
    return ""


async def evaluate_drafts(
    drafter: Drafter, samples: Sequence[Sample], sim: Similarity, concurrency: int = 2
) -> DraftReport:
    """Draft every sample (``concurrency`` at once) and score it (module docstring)."""
    report = DraftReport()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, sample: Sample) -> None:
        async with gate:
            req = Request(request_id=f"eval-{i}", message=sample.text, intent=sample.intent)
            out = await drafter.draft(req)
        drafted = Drafted(req.request_id, out.text, out.fallback, bool(out.flags), out.latency_ms)
        _score(report, sim, samples, i, drafted)

    await asyncio.gather(*(one(i, s) for i, s in enumerate(samples)))
    return report


def bitext_by_message_id(path: Path) -> tuple[dict[str, Sample], Similarity]:
    """Every Bitext row with a reference by its message's event id in a replay, and the
    similarity fitted on those references (as :func:`bitext_samples`)."""
    samples = {
        event_id: Sample(r["instruction"], r["intent"], r["response"])
        for event_id, r in bitext_messages(path).items()
        if r["instruction"] and r["response"]
    }
    return samples, Similarity([s.reference for s in samples.values()])


def score_replayed(
    drafts: Sequence[Drafted], by_id: dict[str, Sample], sim: Similarity
) -> tuple[DraftReport, int]:
    """Score the drafts of replayed Bitext messages; also returns how many drafts were
    for messages that are not Bitext rows (other sources, engagement drafts)."""
    matched = sorted((d for d in drafts if d.request_id in by_id), key=lambda d: d.request_id)
    samples = [by_id[d.request_id] for d in matched]
    report = DraftReport()
    for i, draft in enumerate(matched):
        _score(report, sim, samples, i, draft)
    return report, len(drafts) - len(matched)


def _score(
    report: DraftReport, sim: Similarity, samples: Sequence[Sample], i: int, draft: Drafted
) -> None:
    """Add the draft of ``samples[i]`` and that sample's baselines to ``report``."""
    sample = samples[i]
    report.template.append(sim(fallback_text(sample.intent), sample.reference))
    report.other_reference.append(sim(_other(samples, i), sample.reference))
    report.latency_ms.append(draft.latency_ms)
    report.flagged += draft.flagged
    if draft.fallback:
        report.fallbacks += 1
        return
    report.llm.append(sim(draft.text, sample.reference))
    report.llm_other.append(sim(draft.text, _other(samples, i)))
    if len(report.examples) < 3:
        report.examples.append((sample.text, draft.text, sample.reference))
