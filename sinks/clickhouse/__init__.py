"""The ClickHouse sink: every event, insight, draft, snapshot and dead letter as rows.

- :mod:`~sinks.clickhouse.sink`: ``ClickHouseSink`` (chDB embedded, or a server over
  HTTP), idempotent batched inserts, retries, the refused-rows split;
- :mod:`~sinks.clickhouse.tables`, :mod:`~sinks.clickhouse.columns`,
  :mod:`~sinks.clickhouse.migrations`: the schema, versioned;
- :mod:`~sinks.clickhouse.rows`, :mod:`~sinks.clickhouse.rows_published`: records to
  rows (free text masked by :mod:`sinks.pii_mask`);
- :mod:`~sinks.clickhouse.erasure`: a customer's rows deleted everywhere, audited;
- :mod:`~sinks.clickhouse.sql`, :mod:`~sinks.clickhouse.queries`: the read-only gate of
  ``rapport sql`` and the documented example queries.
"""
