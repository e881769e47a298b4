"""The worker's HTTP server and logs."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from streams.core.tokens import parse_tokens


class WebSettings(BaseModel):
    """The HTTP endpoint (views, metrics) and logging."""

    model_config = ConfigDict(frozen=True)

    # --- web
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    web_advertised_url: str | None = Field(
        None,
        description="The URL other workers route this worker's customers to (http(s)://"
        "host:port; {ip}, {hostname}, {port} filled in at start); default "
        "http://RAPPORT_WEB_HOST:RAPPORT_WEB_PORT, which must then not be 0.0.0.0",
    )
    web_tokens: SecretStr | None = Field(
        None,
        description="API tokens, hashed: comma-separated role:sha256(token) with roles agent, "
        "analyst, ops (`rapport token --role R` makes one); unset: the API is open",
    )
    web_token: SecretStr | None = Field(
        None, description="The token the CLI sends (rapport sql, rapport features)"
    )
    web_session_key: SecretStr | None = Field(
        None,
        description="Key signing the console's session cookies (give every worker the same "
        "one so a session holds across them); unset: a random key per process, so a "
        "restart signs everyone out",
    )
    web_session_ttl_s: int = Field(
        8 * 3600, ge=60, description="How long a console sign-in lasts (seconds)"
    )
    web_secure_cookies: bool = Field(
        False, description="Mark the console's cookies Secure (serve it behind HTTPS)"
    )
    log_level: str = "info"
    blocking_timeout_s: float = Field(
        0.0,
        ge=0,
        description="Log a traceback of the event loop when it is blocked longer than this "
        "(seconds; 0: off)",
    )

    @field_validator("web_advertised_url")
    @classmethod
    def _check_advertised(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            msg = f"must be an http(s)://host:port URL, got {value!r}"
            raise ValueError(msg)
        unknown = {n for n in re.findall(r"{(\w*)}", value)} - {"ip", "hostname", "port"}
        if unknown:
            msg = f"unknown placeholder(s) {sorted(unknown)}; use {{ip}}, {{hostname}}, {{port}}"
            raise ValueError(msg)
        return value

    @field_validator("web_tokens")
    @classmethod
    def _check_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_tokens(value.get_secret_value())  # ValueError names the bad entry
        return value

    @property
    def token_table(self) -> dict[str, str]:
        """``{sha256: role}`` of ``web_tokens`` (empty: the API is open)."""
        return {} if self.web_tokens is None else parse_tokens(self.web_tokens.get_secret_value())
