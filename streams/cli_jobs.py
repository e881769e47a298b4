"""Sub-commands that run jobs against a running stack: replay, the main job, bench."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any, handlers: dict[str, Any]) -> None:
    _ = (sub, handlers, argparse)
