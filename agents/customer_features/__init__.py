"""The feature agent: each customer's rolling features, kept in a Faust table.

:mod:`~agents.customer_features.agent` (the Faust side: ``events`` in, the ``features``
table, changed customers published to Redis and the ``features`` topic) applies the
engine of the :mod:`features` package to each event, in offset order per partition;
:mod:`~agents.customer_features.partitions` knows where each partition starts and
reads back from Kafka what a rebalance made the stream skip.
"""
