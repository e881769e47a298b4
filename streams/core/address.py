"""The URL a worker advertises to the others (where they route a customer's requests).

Faust puts it in the group's assignment metadata; another worker proxies a request
for a customer it does not own to that URL. A wildcard bind (``0.0.0.0``, in compose
and Kubernetes) is no address to reach, so ``RAPPORT_WEB_ADVERTISED_URL`` names it;
``{ip}``, ``{hostname}`` and ``{port}`` in it are filled in at start (the container's
address in compose; Kubernetes can pass the pod's IP itself).

>>> from streams.core.settings import Settings
>>> advertised_url(Settings(_env_file=None, web_port=7000))
'http://127.0.0.1:7000'
>>> advertised_url(Settings(_env_file=None, web_advertised_url="http://w-1.svc:{port}"))
'http://w-1.svc:6066'
"""

from __future__ import annotations

import socket
from typing import Final
from urllib.parse import urlsplit

from streams.core.errors import ConfigError
from streams.core.settings import Settings

WILDCARDS: Final = frozenset({"0.0.0.0", "::", "", "[::]"})


def _ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def advertised_url(settings: Settings) -> str:
    """The URL other workers reach this one at (module docstring); unchecked."""
    template = settings.web_advertised_url
    if template is None:
        return f"http://{settings.web_host}:{settings.web_port}"
    fills = {"port": str(settings.web_port), "hostname": socket.gethostname()}
    if "{ip}" in template:
        fills["ip"] = _ip()
    return template.format(**fills).rstrip("/")


def checked_advertised_url(settings: Settings) -> str:
    """:func:`advertised_url`, refused (one line naming the setting) when it is a wildcard
    address no other worker can reach."""
    url = advertised_url(settings)
    host = urlsplit(url).hostname or ""
    if host in WILDCARDS:
        if settings.web_advertised_url is None:
            msg = (
                f"RAPPORT_WEB_HOST is {settings.web_host!r}, an address other workers cannot "
                "route to: set RAPPORT_WEB_ADVERTISED_URL (e.g. http://{ip}:"
                f"{settings.web_port} in compose, http://$(POD_IP):{settings.web_port} in "
                "Kubernetes)"
            )
        else:
            msg = (
                f"RAPPORT_WEB_ADVERTISED_URL {url!r} names a wildcard address: "
                "use a host other workers can reach"
            )
        raise ConfigError(msg)
    return url
