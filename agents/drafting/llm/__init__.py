"""The LLM side of reply drafting, with no Kafka and no Redis in it.

:mod:`.redact` (PII placeholders and their restoration), :mod:`.intent` (a keyword
intent detector), :mod:`.prompts` (chat and few-shot completion, versioned),
:mod:`.client` (an OpenAI-compatible client with deadlines, retries, Retry-After),
:mod:`.breaker` (a circuit breaker), :mod:`.guardrails` (checks on the output),
:mod:`.templates` (fallback drafts per intent) and :mod:`.drafter`, which runs them
in order for one request.
"""

from __future__ import annotations

from streams.core.errors import RapportError


class DraftingError(RapportError):
    """The LLM could not produce a usable draft; the message says why (never the text)."""
