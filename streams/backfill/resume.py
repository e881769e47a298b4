"""Resumable imports: how far an import of this file, with this mapping, to this topic got.

The mark lives in ``{data_dir}/imports/{key}.json``, ``key`` a digest of the file's
bytes, the mapping's text and the topic. It counts the events (in the plan's order)
Kafka acknowledged, written after every acknowledged chunk (to a temporary file, then
renamed: a kill never leaves half a mark). A re-run skips that many events. The chunk
sent after the last mark may be sent again: those events carry the same ids, and the
ingest drops what it has already seen (and the stores are idempotent by event id).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> mark = Mark(folder / "m.json", total=10)
>>> mark.produced, mark.save(4), Mark(folder / "m.json", total=10).produced
(0, None, 4)
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson


def mark_path(data_dir: Path, file: Path, mapping_text: str, topic: str) -> Path:
    """Where the mark of importing ``file`` with this mapping into ``topic`` lives."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0" + mapping_text.encode() + b"\0" + topic.encode())
    return data_dir / "imports" / f"{file.stem[:40]}-{digest.hexdigest()[:16]}.json"


class Mark:
    """The count of acknowledged events of one import (module docstring)."""

    def __init__(self, path: Path, total: int) -> None:
        self.path = path
        self.total = total
        self.produced = 0
        try:
            found = orjson.loads(path.read_bytes())
            if int(found.get("total", -1)) == total:
                self.produced = min(total, max(0, int(found.get("produced", 0))))
        except (OSError, orjson.JSONDecodeError, TypeError, ValueError):
            self.produced = 0

    def save(self, produced: int) -> None:
        self.produced = produced
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"produced": produced, "total": self.total, "at": datetime.now(UTC).isoformat()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(body))
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.produced = 0
        self.path.unlink(missing_ok=True)
