"""Table keys in Faust's JSON format, each encoded key allocated at its own size.

orjson returns even a short result in a 4 KiB allocation, and Faust's RocksDB store keeps
the encoded keys it last read or wrote in an LRU key index (Faust's
``table_key_index_size``, 1,000 per table): 4 MiB a table, 24 MiB for the worker's six,
filled slowly as new customers arrive (the largest growth ``rapport bench soak`` traced:
11.8 MiB in 3,028 blocks over 3 minutes). ``compact_json`` writes the same bytes as
Faust's ``json`` codec, copied into an exact-size object.

>>> import tracemalloc
>>> codec = CompactJson()
>>> tracemalloc.start()
>>> keys = [codec.dumps(f"customer-{i}") for i in range(1_000)]
>>> size = tracemalloc.get_traced_memory()[0]
>>> tracemalloc.stop()
>>> keys[0], size < 100_000
(b'"customer-0"', True)
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

KEY_SERIALIZER = "compact_json"


class CompactJson(codecs.json):
    """Faust's JSON codec, its output copied to an exact-size bytes object."""

    def _dumps(self, s: Any) -> bytes:
        return memoryview(super()._dumps(s)).tobytes()


codecs.register(KEY_SERIALIZER, CompactJson())
