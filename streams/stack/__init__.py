"""The local stack for a machine without Docker: Kafka (KRaft), Redis, the LLM server.

ClickHouse runs in-process through chDB, so there is nothing to start for it.
"""
