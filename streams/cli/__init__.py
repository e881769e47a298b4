"""The ``rapport`` command: worker, local stack, replay, schemas, bench, the main job.

The parser and ``main`` are here; each group of commands is a module, imported only when
its command runs: :mod:`~streams.cli.jobs` (replay, bench, run), :mod:`~streams.cli.ops`
(stack, lag), :mod:`~streams.cli.sql`, :mod:`~streams.cli.features`,
:mod:`~streams.cli.evaluate`, and the main job (:mod:`~streams.cli.main_job`, with its
drain, tail and answers).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from streams.core.errors import RapportError
from streams.core.settings import Settings

log = logging.getLogger("rapport")

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        name = "RAPPORT_" + "_".join(str(p) for p in err["loc"]).upper()
        lines.append(f"{name}: {err['msg']}")
    return "invalid settings: " + "; ".join(lines)


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker  # noqa: PLC0415

    return run_worker(settings)


def _cmd_sink(args: argparse.Namespace, settings: Settings) -> int:
    """The ClickHouse sink alone, as its own consumer group (``{app id}-sink``): the one
    writer (and ``/sql`` reader) of a chDB store beside any number of workers run with
    ``RAPPORT_AGENTS=processing``."""
    from streams.core.sink_lease import SINK_SUFFIX  # noqa: PLC0415
    from streams.worker import run_worker  # noqa: PLC0415

    app_id = settings.app_id.removesuffix(SINK_SUFFIX) + SINK_SUFFIX
    return run_worker(settings.model_copy(update={"agents": "sink", "app_id": app_id}))


def _cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """A new API token for a role: the token to hand out, the entry the workers keep."""
    from streams.core.tokens import new_token  # noqa: PLC0415

    token, entry = new_token(args.role)
    print(f"token (give it to the {args.role}; the CLI reads RAPPORT_WEB_TOKEN): {token}")
    print(f"add to the workers' RAPPORT_WEB_TOKENS (comma-separated; only the hash): {entry}")
    return 0


def _cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    from streams.stack import control  # noqa: PLC0415

    if args.action == "up":
        started = control.up(settings, with_llm=not args.no_llm)
        print("started: " + (", ".join(started) or "nothing (already running)"))
        return 0
    if args.action == "down":
        stopped = control.down(settings)
        print("stopped: " + (", ".join(stopped) or "nothing (none started by rapport)"))
        return 0
    rows = control.status(settings)
    for row in rows:
        mark = "up  " if row.ok else "DOWN"
        owner = " (started by rapport)" if row.owned else ""
        print(f"{mark} {row.name:<18} {row.detail}{owner}")
    return 0 if all(r.ok for r in rows) else 1


def _cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from streams import schema_export as export  # noqa: PLC0415

    out = export.SCHEMAS_DIR
    if args.action == "export":
        for path in export.export_all(out):
            print(path)
        return 0
    drift = export.check_all(out)
    for name in drift:
        print(f"drift: {name}")
    return 1 if drift else 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(
        prog="rapport", description="Rapport: real-time customer intelligence on Kafka."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}

    sub.add_parser("worker", help="run a stream-processing worker (Faust)")
    handlers["worker"] = _cmd_worker
    sub.add_parser(
        "sink",
        help="run the ClickHouse sink alone, as its own consumer group: the one writer of a "
        "chDB store beside workers run with RAPPORT_AGENTS=processing",
    )
    handlers["sink"] = _cmd_sink
    token = sub.add_parser("token", help="make an API token for a role (agent, analyst, ops)")
    token.add_argument("--role", required=True, choices=["agent", "analyst", "ops"])
    handlers["token"] = _cmd_token

    stack = sub.add_parser("stack", help="the local stack: Kafka (KRaft), Redis, LLM server")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--no-llm", action="store_true", help="up: skip the LLM server")
    handlers["stack"] = _cmd_stack

    schemas = sub.add_parser("schemas", help="export or check the published contract files")
    schemas.add_argument("action", choices=["export", "check"])
    handlers["schemas"] = _cmd_schemas

    from streams.cli import evaluate as cli_evaluate  # noqa: PLC0415
    from streams.cli import features as cli_features  # noqa: PLC0415
    from streams.cli import imports as cli_imports  # noqa: PLC0415
    from streams.cli import jobs as cli_jobs  # noqa: PLC0415
    from streams.cli import models as cli_models  # noqa: PLC0415
    from streams.cli import ops as cli_ops  # noqa: PLC0415
    from streams.cli import sql as cli_sql  # noqa: PLC0415

    cli_jobs.add_commands(sub, handlers)
    cli_evaluate.add_commands(sub, handlers)
    cli_sql.add_commands(sub, handlers)
    cli_features.add_commands(sub, handlers)
    cli_ops.add_commands(sub, handlers)
    cli_imports.add_commands(sub, handlers)
    cli_models.add_commands(sub, handlers)
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        settings = Settings()
        return handlers[args.command](args, settings)
    except ValidationError as exc:
        print(f"rapport: {_settings_error(exc)}", file=sys.stderr)
    except RapportError as exc:
        print(f"rapport: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("rapport: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a last line instead of a wall of traceback (-v shows it)
        if args.verbose:
            raise
        print(
            f"rapport: unexpected {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
    return 2
