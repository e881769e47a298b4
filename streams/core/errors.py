"""The exception tree shared by every Rapport package."""

from __future__ import annotations


class RapportError(Exception):
    """Base of every error Rapport raises on purpose."""


class ConfigError(RapportError):
    """A setting is missing or wrong; the message names the setting and the fix."""


class StackError(RapportError):
    """A local service could not be installed, started, stopped or reached."""
