"""API tokens: how they are made and kept in settings (hashed at rest).

``RAPPORT_WEB_TOKENS`` holds ``role:sha256(token)`` entries; the workers never see a
token itself except in a request (``streams.web.auth``).

>>> token, entry = new_token("ops")
>>> parse_tokens(entry) == {digest(token): "ops"}
True
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

ROLES: Final = ("agent", "analyst", "ops")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(role: str) -> tuple[str, str]:
    """A random token, and its ``RAPPORT_WEB_TOKENS`` entry."""
    token = secrets.token_urlsafe(32)
    return token, f"{role}:{digest(token)}"


def parse_tokens(raw: str) -> dict[str, str]:
    """``role:sha256hex,...`` as ``{hash: role}``; ValueError naming a bad entry."""
    table: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        role, _, hashed = entry.partition(":")
        hashed = hashed.lower()
        if role not in ROLES or len(hashed) != 64 or set(hashed) - set("0123456789abcdef"):
            msg = f"entry {entry[:12]!r}... is not role:sha256-hex with a role among {ROLES}"
            raise ValueError(msg)
        table[hashed] = role
    return table
