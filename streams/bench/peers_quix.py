"""The Quix Streams side of ``rapport bench peers``: the same workload as a stateful
``apply`` (run in ``.venv-peers``, which has Quix Streams and none of Rapport's
dependencies; ``make bench-peers`` builds it).

Usage: ``python -m streams.bench.peers_quix BOOTSTRAP SOURCE SINK COUNT STATE_DIR GROUP``

Reads SOURCE from the earliest offset, applies :func:`features.peer_workload.update` to
each record with the customer's state in Quix's RocksDB state store (changelogged), and
writes one JSON record per event to SINK; stops after COUNT outputs.
"""

from __future__ import annotations

import sys
from typing import Any

from features.peer_workload import update


def apply(value: dict[str, Any], state: Any) -> Any:
    new, out = update(state.get("f"), value)
    state.set("f", new)
    return out


def main(argv: list[str]) -> None:
    # here, not at the top: the test suite imports every module for its doctests, in a
    # venv without Quix Streams
    from quixstreams import Application  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

    bootstrap, source, sink, count, state_dir, group = argv
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    topic_in = app.topic(source, key_deserializer="str", value_deserializer="json")
    topic_out = app.topic(sink, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(topic_in)
    sdf = sdf.apply(apply, stateful=True)
    sdf.to_topic(topic_out)
    app.run(count=int(count), timeout=60.0, collect=False)


if __name__ == "__main__":
    main(sys.argv[1:])
