"""The baseline of ``rapport bench``: a bare aiokafka consume -> orjson -> produce loop.

Usage: ``python -m streams.bench.baseline BOOTSTRAP SOURCE SINK COUNT``
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def loop(bootstrap: str, source: str, sink: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"baseline-{uuid.uuid4().hex[:8]}",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144
    )
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < count:
            for records in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                for record in records:
                    event = orjson.loads(record.value or b"{}")
                    await producer.send(sink, key=record.key, value=orjson.dumps(event))
                    done += 1
        await producer.flush()
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(loop(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
