"""Web views on every worker: ``/health``, ``/ready`` (assigned, recovered), ``/metrics``;
``/debug/heap`` with ``RAPPORT_MEMORY_TRACE``."""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.core.runtime import Runtime
from streams.heap import HeapTracer, rocksdb_bytes


def readiness(app: faust.App) -> dict[str, Any]:
    """Ready when partitions are assigned, no rebalance runs and table recovery completed."""
    try:
        assigned = len(app.consumer.assignment())
    except Exception:
        assigned = 0
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    recovered = bool(recovery.completed.is_set()) and not app.in_recovery
    ready = assigned > 0 and recovered and not app.rebalancing
    return {
        "ready": ready,
        "assigned_partitions": assigned,
        "tables_recovered": recovered,
        "rebalancing": bool(app.rebalancing),
    }


def register(runtime: Runtime) -> None:
    app = runtime.app

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "app": app.conf.id})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app)
            return self.json(state, status=200 if state["ready"] else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    if runtime.settings.memory_trace:
        _register_heap(app, runtime.settings.memory_trace_frames)


def _register_heap(app: faust.App, frames: int) -> None:
    """``/debug/heap`` (``RAPPORT_MEMORY_TRACE``): traced bytes, the largest allocation
    sites, and the sites grown since ``?mark=1`` (see :mod:`streams.heap`)."""
    tracer = HeapTracer(frames)
    tracer.start()

    @app.page("/debug/heap")
    class Heap(View):
        async def get(self, request: Request) -> Response:
            if request.query.get("mark"):
                tracer.mark()
            top = int(request.query.get("top", "15"))
            report = tracer.report(top=top)
            report["rocksdb"] = rocksdb_bytes({t.name: t for t in app.tables.values()})
            return self.json(report)
