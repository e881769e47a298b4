"""``rapport features <customer_id>``: a customer's features, from a worker or from Redis.

``--source worker`` asks a worker's HTTP API (it answers from the owner's table, or
from Redis if the owner is unreachable), ``--source redis`` reads the feature
store directly, ``auto`` (the default) tries the worker and falls back to Redis.
Exit status: 0 found, 1 unknown customer, 2 an error (message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from features.store import FeatureStore
from streams.cli.sql import auth_headers, client_token
from streams.core.errors import RapportError
from streams.core.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


class WorkerUnreachableError(RapportError):
    """No worker answers at the given URL."""


def from_worker(
    base_url: str, customer_id: str, timeout: float = 5.0, token: str | None = None
) -> tuple[int, Any]:
    """(HTTP status, JSON body) of ``GET /customers/{id}/features``."""
    url = f"{base_url.rstrip('/')}/customers/{urllib.parse.quote(customer_id, safe='')}/features"
    request = urllib.request.Request(url, headers=auth_headers(token))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, OSError) as exc:
        raise WorkerUnreachableError(f"no worker answers at {base_url} ({exc})") from exc


def from_redis(settings: Settings, customer_id: str) -> tuple[int, Any]:
    store = FeatureStore(
        settings.redis_url.get_secret_value(),
        settings.redis_key_prefix,
        settings.features_redis_ttl_s,
    )

    async def read() -> Any:
        try:
            return await store.read(customer_id)
        finally:
            await store.close()

    stored = asyncio.run(read())
    if stored is None:
        return 404, {"error": "unknown_customer", "customer_id": customer_id}
    return 200, {
        "customer_id": customer_id,
        "source": "redis (direct)",
        "as_of": stored.as_of,
        "written_at": datetime.fromtimestamp(stored.written_at, UTC).isoformat(),
        "age_s": round(stored.age_s(), 3),
        "features": stored.features,
    }


def render(body: dict[str, Any]) -> str:
    """A readable listing: the provenance, then one feature per line."""
    lines = [f"customer {body['customer_id']}  (source: {body['source']}, as of {body['as_of']})"]
    if "age_s" in body:
        lines.append(f"written {body['age_s']}s ago")
    features: dict[str, Any] = body["features"]
    width = max((len(name) for name in features), default=0)
    lines += [f"  {name:<{width}}  {json.dumps(value)}" for name, value in features.items()]
    return "\n".join(lines)


def _cmd_features(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or f"http://{settings.web_host}:{settings.web_port}"
    if args.source == "redis":
        status, body = from_redis(settings, args.customer_id)
    else:
        try:
            status, body = from_worker(base, args.customer_id, token=client_token(settings))
        except WorkerUnreachableError:
            if args.source == "worker":
                raise
            status, body = from_redis(settings, args.customer_id)
    if status == 404:
        print(
            f"rapport: unknown customer {args.customer_id!r} (never seen, or erased)",
            file=sys.stderr,
        )
        return 1
    if status != 200:
        print(
            f"rapport: features of {args.customer_id!r}: HTTP {status}: "
            f"{body.get('detail') or body}",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(body, indent=2) if args.json else render(body))
    return 0


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    parser = sub.add_parser("features", help="a customer's features (worker HTTP API or Redis)")
    parser.add_argument("customer_id")
    parser.add_argument(
        "--source",
        choices=["auto", "worker", "redis"],
        default="auto",
        help="auto: a worker, else Redis (default)",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="worker base URL (default: http://RAPPORT_WEB_HOST:RAPPORT_WEB_PORT)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON answer")
    handlers["features"] = _cmd_features
