"""``rapport models warm-start``: train the text models' warm-start snapshot from the
shipped datasets and write it, signed, where workers read it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from streams.core.errors import RapportError
from streams.core.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def build_warm_start(settings: Settings, data_dir: Path | None = None) -> str:
    """Train and write the snapshot (atomically); a line saying what was written."""
    from online_models.warm import dump, train  # noqa: PLC0415

    started = time.perf_counter()
    try:
        warm = train(data_dir)
    except ImportError as exc:  # scikit-learn (the split) and vaderSentiment: the eval extra
        msg = f"warm-start training needs the eval extra (pip install '.[eval]'): {exc}"
        raise RapportError(msg) from exc
    blob = dump(warm, settings.models_checkpoint_key.get_secret_value().encode())
    path = settings.warm_start_file
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(blob)
    partial.replace(path)
    rows = ", ".join(f"{name} {n:,}" for name, n in warm.sources.items())
    return (
        f"warm-start snapshot {warm.snapshot} ({rows}) written to {path}: "
        f"{len(blob) / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s"
    )


def _cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    print(build_warm_start(settings, args.data_dir))
    return 0


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], handlers: dict[str, Handler]
) -> None:
    models = sub.add_parser(
        "models",
        help="warm-start: train the text models' snapshot from the shipped datasets "
        "(workers start from it when a partition has no checkpoint)",
    )
    models.add_argument("action", choices=["warm-start"])
    models.add_argument("--data-dir", type=Path, default=None, help="where the CSV files are")
    handlers["models"] = _cmd_models
