"""Where the engine's records land outside Kafka.

- :mod:`sinks.base`: the batch, retry and origin types every sink shares, ``SinkError``;
- :mod:`sinks.clickhouse`: the ClickHouse sink (tables, migrations, rows, erasure, the
  read-only SQL gate);
- :mod:`sinks.pii_mask`: the masking of free text before it is stored;
- :mod:`sinks.metrics`: the sink's Prometheus families.
"""

from sinks.base import (
    Batch,
    BatchingSink,
    BatchPolicy,
    Origin,
    Rejected,
    RetryPolicy,
    SinkError,
)
from sinks.clickhouse.sink import ClickHouseSink, QueryLimits

__all__ = [
    "Batch",
    "BatchPolicy",
    "BatchingSink",
    "ClickHouseSink",
    "Origin",
    "QueryLimits",
    "Rejected",
    "RetryPolicy",
    "SinkError",
]
