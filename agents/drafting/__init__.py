"""Reply drafting: which messages get a draft, and the draft itself.

One message's path: :mod:`~agents.drafting.requests` (the reply-request agent on
``events``, and the engagement agent on ``insights``) applies :mod:`~agents.drafting.rule`
to the customer's recent conversations and emits a reply request; the drafting agent
(:mod:`~agents.drafting.agent`, on ``reply-requests``, ``drafting_concurrency`` actors)
claims it in Redis and drafts it with the drafter :mod:`~agents.drafting.build` makes
from settings. The LLM side, with no Kafka and no Redis in it, is :mod:`.llm` (redaction,
prompts, client, breaker, guardrails, templates). Redis state (claims, cached drafts,
feedback, erasure): :mod:`~agents.drafting.store`; Prometheus families:
:mod:`~agents.drafting.metrics`.
"""
