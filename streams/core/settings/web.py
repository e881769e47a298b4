"""The worker's HTTP server and logs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebSettings(BaseModel):
    """The HTTP endpoint (views, metrics) and logging."""

    model_config = ConfigDict(frozen=True)

    # --- web
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    log_level: str = "info"
    blocking_timeout_s: float = Field(
        0.0,
        ge=0,
        description="Log a traceback of the event loop when it is blocked longer than this "
        "(seconds; 0: off)",
    )
