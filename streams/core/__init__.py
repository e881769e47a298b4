"""The bottom layer every other package may import, and which imports none of them.

- :mod:`streams.core.settings`: the one ``Settings`` object, from ``RAPPORT_*``;
- :mod:`streams.core.errors`: ``RapportError``, the base of every error a user sees;
- :mod:`streams.core.metrics`: the Prometheus families shared across packages;
- :mod:`streams.core.kafka_client`: aiokafka client options (brokers, TLS, SASL);
- :mod:`streams.core.runtime`: ``Runtime``, what an agent gets from the app that builds
  it (app, settings, topics, tables with their store options);
- :mod:`streams.core.batches`, :mod:`streams.core.write_behind`: an agent's batches, acked
  after the batch, and its table writes once per dirty key per batch;
  :mod:`streams.core.codecs`: table keys encoded at their own size.

``schemas``, ``features``, ``online_models``, ``sinks`` and ``agents`` import from
``streams`` only this package (a unit test builds the import graph and checks it); the
rest of ``streams`` (the app that wires agents and their web views, CLI, benches, replay)
sits on top of every folder.
"""
