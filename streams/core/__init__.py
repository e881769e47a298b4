"""The bottom layer every other package may import, and which imports none of them.

- :mod:`streams.core.settings`: the one ``Settings`` object, from ``RAPPORT_*``;
- :mod:`streams.core.errors`: ``RapportError``, the base of every error a user sees;
- :mod:`streams.core.metrics`: the Prometheus families shared across packages;
- :mod:`streams.core.kafka_client`: aiokafka client options (brokers, TLS, SASL).

``schemas``, ``features``, ``online_models`` and ``sinks`` import from ``streams`` only
this package (a unit test builds the import graph and checks it); the rest of
``streams`` (the app, CLI, benches, web views, replay) sits on top of every folder.
"""
