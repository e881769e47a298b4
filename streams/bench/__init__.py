"""``rapport bench``: every benchmark, each with its baseline measured in the same run.

- :mod:`~streams.bench.harness`: what the benches share (a worker's isolated settings,
  producing a pre-loaded topic, the bare aiokafka loop, process CPU and RSS, the table);
- :mod:`~streams.bench.run`: ``rapport bench [all|ingest|pipeline]``, with
  :mod:`~streams.bench.baseline` and :mod:`~streams.bench.pipeline`;
- one module per other bench: :mod:`~streams.bench.sink`, :mod:`~streams.bench.state`,
  :mod:`~streams.bench.features`, :mod:`~streams.bench.restart`, :mod:`~streams.bench.soak`,
  :mod:`~streams.bench.drafting`, :mod:`~streams.bench.peers` (Quix Streams through
  :mod:`~streams.bench.peers_quix`, run in its own venv: this package imports nothing).
"""
