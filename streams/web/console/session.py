"""Console sessions: a signed cookie after a sign-in with an API token, and the CSRF
token bound to it.

The cookie holds ``role|expiry|nonce|who`` (``who``: the first characters of the token's
hash, the reviewer's ``agent_id`` on their verdicts) and its HMAC-SHA256 under the session key
(``RAPPORT_WEB_SESSION_KEY``, or a random key per process); it is ``HttpOnly`` and
``SameSite=Strict`` (``Secure`` with ``RAPPORT_WEB_SECURE_COOKIES``). Every form the
console posts carries ``csrf``, the HMAC of the session's nonce: a page on another site
can neither read it nor, with ``SameSite=Strict``, send the cookie.

>>> sessions = Sessions(b"k" * 32, ttl_s=60)
>>> cookie = sessions.issue("agent", now=1000.0)
>>> session = sessions.verify(cookie, now=1030.0)
>>> session.role, sessions.verify(cookie, now=1061.0), sessions.verify(cookie + "x", now=1030.0)
('agent', None, None)
>>> sessions.csrf_ok(session, sessions.csrf(session)), sessions.csrf_ok(session, "forged")
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

COOKIE: Final = "rapport_session"


@dataclass(frozen=True)
class Session:
    role: str
    expires: float
    nonce: str
    who: str = ""


class Sessions:
    def __init__(self, key: bytes | None, ttl_s: int, *, secure: bool = False) -> None:
        self.key = key or secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self.secure = secure

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, role: str, now: float | None = None, who: str = "") -> str:
        expires = (time.time() if now is None else now) + self.ttl_s
        payload = f"{role}|{expires:.0f}|{secrets.token_urlsafe(16)}|{who}"
        encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{encoded}.{self._mac(payload)}"

    def verify(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie this process (or one sharing its key) issued, unexpired."""
        if not cookie or "." not in cookie:
            return None
        encoded, _, mac = cookie.rpartition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        role, expires, nonce, who = [*payload.split("|"), "", "", ""][:4]
        try:
            at = float(expires)
        except ValueError:
            return None
        if at <= (time.time() if now is None else now):
            return None
        return Session(role, at, nonce, who)

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf|{session.nonce}")

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf(session), token)

    def cookie_options(self) -> dict[str, object]:
        return {
            "httponly": True,
            "samesite": "Strict",
            "secure": self.secure,
            "path": "/",
            "max_age": self.ttl_s,
        }
