"""Every request the server makes to an address a user or a setting chose goes through here.

Only http and https; the address every connection goes to — after DNS resolution, and so for
every redirect too — must be a public one (no loopback, link-local, private, multicast, reserved
or unspecified address) unless ``OUTBOUND_ALLOW_PRIVATE``; at most 5 redirects; the response is
read up to ``OUTBOUND_MAX_BYTES`` within ``OUTBOUND_TIMEOUT_SECONDS``.

The address is checked where the socket is opened, on the IP the socket then connects to, so a
name that resolves to a public address when checked and a private one when used (DNS rebinding)
cannot slip through, and httpx's own redirect following stays inside the fence.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from flask import current_app

MAX_REDIRECTS = 5
SCHEMES = ("http", "https")


class OutboundError(Exception):
    """A request the fence refused or a response past its bounds."""


class OutboundRefused(OutboundError):
    """The scheme or the address is not one the server may call."""


class ResponseTooLarge(OutboundError):
    """The response is larger than OUTBOUND_MAX_BYTES."""


class ResponseTooSlow(OutboundError):
    """The response took longer than OUTBOUND_TIMEOUT_SECONDS."""


def display_url(url: str | httpx.URL) -> str:
    """The URL without credentials, query or fragment: what errors and logs may show."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def is_public(address: str) -> bool:
    """Whether an IP address is one anyone on the internet could reach."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def public_address(host: str, port: int) -> str:
    """The first address ``host`` resolves to; OutboundRefused unless every one is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"{host} cannot be resolved ({exc})") from exc
    addresses = [info[4][0] for info in infos]
    refused = [a for a in addresses if not is_public(a)]
    if refused or not addresses:
        raise OutboundRefused(
            f"{host} is a private, loopback or reserved address ({', '.join(refused)}); "
            "set OUTBOUND_ALLOW_PRIVATE=1 to allow it"
        )
    return addresses[0]


class _FencedBackend(httpcore.SyncBackend):
    """Opens a connection only to a public address, the one that was checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = public_address(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _FencedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # TLS still checks the certificate against the URL's host name (httpcore's origin).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_FencedBackend(),
        )


def _settings() -> tuple[bool, int, float]:
    config = current_app.config
    return (
        bool(config["OUTBOUND_ALLOW_PRIVATE"]),
        int(config["OUTBOUND_MAX_BYTES"]),
        float(config["OUTBOUND_TIMEOUT_SECONDS"]),
    )


def client(**options: Any) -> httpx.Client:
    """An httpx client inside the fence (``options`` as httpx.Client's: base_url, headers)."""
    allow_private, _, timeout = _settings()
    fenced = {} if allow_private else {"transport": _FencedTransport(), "trust_env": False}
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        event_hooks={"request": [_only_http]},
        **fenced,
        **options,
    )


def _only_http(request: httpx.Request) -> None:
    if request.url.scheme not in SCHEMES:
        raise OutboundRefused(f"only http and https may be called, not {request.url.scheme}")


@dataclass(frozen=True)
class Response:
    """A response read within the bounds."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.content)


def send(http: httpx.Client, method: str, url: str, **options: Any) -> Response:
    """Make one request (redirects followed inside the fence) and read the response within
    OUTBOUND_MAX_BYTES and OUTBOUND_TIMEOUT_SECONDS."""
    _, max_bytes, timeout = _settings()
    scheme = urlsplit(url).scheme
    if scheme and scheme not in SCHEMES:
        raise OutboundRefused(f"only http and https may be called, not {scheme}")
    deadline = time.monotonic() + timeout
    with http.stream(method, url, **options) as response:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"{display_url(response.url)} sends {declared} bytes")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLarge(
                    f"{display_url(response.url)} sent more than {max_bytes} bytes"
                )
            if time.monotonic() > deadline:
                raise ResponseTooSlow(f"{display_url(response.url)} took longer than {timeout:g} s")
        return Response(response.status_code, response.headers, bytes(body), str(response.url))


def request(method: str, url: str, **options: Any) -> Response:
    """One request to ``url`` with a client of its own, inside the fence."""
    with client() as http:
        return send(http, method, url, **options)
