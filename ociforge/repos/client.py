"""HTTP(S) and ``file://`` access for one repository: TLS, proxies, credentials, safe redirects.

The registry :class:`~ociforge.registry.transport.Transport` does the HTTP (timeouts,
retries with backoff, bounded bodies); this module adds what repositories need on top:

* ``sslcacert`` replaces the system roots, ``sslclientcert``/``sslclientkey`` prove who we
  are (the entitled RHEL CDN shape), ``sslverify=0`` turns checks off;
* ``proxy`` (with ``proxy_username``/``proxy_password``), ``_none_`` for none, or else the
  environment's ``https_proxy``/``no_proxy`` as curl reads them;
* ``username``/``password`` as HTTP basic authentication;
* redirects are followed by hand: to the same scheme, host and port with the credentials, to
  any other host *without* them (no client certificate, no Authorization header, system CA
  roots), and never from https to http.

``file://`` URLs read this machine's files (a ``--repo ID=/srv/repo``), with the same limits.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import requests

from ..errors import RegistryError, RepoError, SizeMismatch, TransportError
from ..registry.options import RetryPolicy, TlsOptions
from ..registry.protocol import Request
from ..registry.transport import CONNECTION_ERRORS, Transport, describe_exception, read_limited
from .config import RepoConfig

__all__ = ["Body", "RangeNotSatisfiable", "RepoClient", "Unavailable", "join"]

_MAX_REDIRECTS: Final = 10
_HEADERS: Final = {"Accept-Encoding": "identity"}


class Unavailable(RepoError):
    """A mirror could not serve a file (status, connection, redirect); another may."""


class RangeNotSatisfiable(Unavailable):
    """``416``: the requested offset is at or past the end of the file."""


@dataclass(slots=True)
class Body:
    """An open response body: ``read(n)`` raw bytes; ``offset`` is where it starts in the file."""

    stream: io.RawIOBase | io.BufferedIOBase | requests.Response
    offset: int
    length: int | None
    url: str
    what: str

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; connection failures become :class:`TransportError`."""
        try:
            if isinstance(self.stream, requests.Response):
                # read1: what has arrived, so a dropped connection loses nothing already read.
                raw = self.stream.raw
                return bytes(raw.read1(size if size >= 0 else None, decode_content=True))
            return self.stream.read(size) or b""
        except CONNECTION_ERRORS as exc:
            raise TransportError(f"{self.what}: {describe_exception(exc)}") from exc


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _proxy_url(config: RepoConfig) -> str:
    if not config.proxy_username:
        return config.proxy
    parts = urlsplit(config.proxy)
    user = quote(config.proxy_username, safe="")
    password = quote(config.proxy_password, safe="")
    host = parts.hostname or ""
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def join(base: str, href: str) -> str:
    """``href`` (already checked to stay inside the repository) under the base URL."""
    return base.rstrip("/") + "/" + href


class RepoClient:
    """Fetch URLs of one repository with its TLS, proxy and credential settings."""

    def __init__(self, config: RepoConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        proxies: dict[str, str] | None = None
        if config.proxy == "_none_":
            proxies = {}
        elif config.proxy:
            proxy = _proxy_url(config)
            proxies = {"http": proxy, "https": proxy}
        trusted = TlsOptions(
            verify=config.sslverify,
            ca_file=config.sslcacert or None,
            client_cert=config.sslclientcert or None,
            client_key=config.sslclientkey or None,
        )
        try:
            self._trusted = Transport(tls=trusted, retry=retry, proxies=proxies)
            self._anonymous = Transport(
                tls=TlsOptions(verify=config.sslverify), retry=retry, proxies=proxies
            )
        except RegistryError as exc:
            raise RepoError(f"{config.label}: {exc}") from None
        self._authorization: str | None = None
        if config.username:
            token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode()
            self._authorization = f"Basic {token}"

    def close(self) -> None:
        """Close pooled connections."""
        self._trusted.close()
        self._anonymous.close()

    @property
    def requests_sent(self) -> int:
        """HTTP requests made so far (retries included)."""
        return self._trusted.requests_sent + self._anonymous.requests_sent

    def get(self, url: str, *, limit: int, what: str) -> bytes:
        """The whole body of ``url``, at most ``limit`` bytes."""
        with self.open(url, what=what) as body:
            data = bytearray()
            while chunk := body.read(min(1 << 20, limit + 1 - len(data))):
                data += chunk
                if len(data) > limit:
                    raise SizeMismatch(f"{what}: larger than {limit} bytes; refused")
            return bytes(data)

    @contextmanager
    def open(self, url: str, *, what: str, offset: int = 0) -> Iterator[Body]:
        """An open body of ``url`` from ``offset`` (a ``Range`` request when not 0).

        ``Body.offset`` tells where the server actually started: 0 when it ignored the
        range. Statuses other than 200/206 raise :class:`Unavailable`.
        """
        if urlsplit(url).scheme == "file":
            body = self._open_file(url, offset, what)
            try:
                yield body
            finally:
                body.stream.close()
            return
        response = self._open_http(url, offset, what)
        try:
            start = 0
            if response.status_code == 206:
                start = _range_start(response.headers.get("Content-Range", ""))
                if start != offset:
                    raise Unavailable(f"{what}: server answered a different range ({start})")
            length = response.headers.get("Content-Length")
            yield Body(
                response,
                start,
                int(length) if length and length.isdigit() else None,
                response.url,
                what,
            )
        finally:
            response.close()

    def _open_file(self, url: str, offset: int, what: str) -> Body:
        path = unquote(urlsplit(url).path)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the caller's context
            handle.seek(offset)
            length = os.fstat(handle.fileno()).st_size - offset
        except FileNotFoundError:
            raise Unavailable(f"{what}: {path}: no such file") from None
        except OSError as exc:
            raise Unavailable(f"{what}: {path}: {exc.strerror}") from None
        return Body(handle, offset, length, url, what)

    def _open_http(self, url: str, offset: int, what: str) -> requests.Response:
        origin = _origin(url)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            same = _origin(current) == origin
            transport = self._trusted if same else self._anonymous
            headers = dict(_HEADERS)
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                response = transport.open(
                    Request("GET", current, headers),
                    authorization=self._authorization if same else None,
                    what=what,
                    redirects=False,
                )
            except RegistryError as exc:
                raise Unavailable(str(exc)) from None
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location", "")
                response.close()
                if not location:
                    raise Unavailable(f"{what}: redirect without a Location")
                target = urljoin(current, location)
                if urlsplit(current).scheme == "https" and urlsplit(target).scheme != "https":
                    raise Unavailable(f"{what}: redirect from https to {target} refused")
                current = target
                continue
            if response.status_code == 416 and offset:
                response.close()
                raise RangeNotSatisfiable(f"{what}: 416 Range Not Satisfiable (from {offset})")
            if response.status_code not in (200, 206):
                status = f"{response.status_code} {response.reason or ''}".strip()
                body = read_limited(response, 512, what=what)
                response.close()
                detail = " ".join(body.decode("utf-8", "replace").split())[:120]
                raise Unavailable(f"{what}: {status}" + (f" ({detail})" if detail else ""))
            return response
        raise Unavailable(f"{what}: more than {_MAX_REDIRECTS} redirects")


def _range_start(content_range: str) -> int:
    # "bytes 100-199/200"
    unit, _, rest = content_range.partition(" ")
    first = rest.split("-", 1)[0]
    if unit != "bytes" or not first.isdigit():
        raise Unavailable(f"unusable Content-Range {content_range!r}")
    return int(first)
