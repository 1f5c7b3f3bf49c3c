"""The only network code: HTTP(S) on requests with TLS options, timeouts, retries and limits.

Every request has a connect and a read timeout. Requests that can be repeated (no body, or a
body held in memory) are retried with jittered exponential backoff after connection errors,
``429`` (waiting at least its ``Retry-After``) and ``502``/``503``/``504``/``500``. Response
bodies are read to a limit and never buffered beyond it. TLS uses the system CAs, plus
``ca.crt``-style roots and ``client.cert``/``client.key`` pairs from a ``--cert-dir``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3

from ..errors import RegistryError, SizeMismatch, TransportError
from ..streams import CHUNK_SIZE
from .options import RetryPolicy, TlsOptions
from .protocol import MAX_ERROR_BYTES, Request, origin, parse_retry_after

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

__all__ = [
    "Authorization",
    "Body",
    "Response",
    "Transport",
    "describe_exception",
    "ssl_context",
]

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
#: Blob storage needs one hop, sometimes two; more is a loop or a trap.
MAX_REDIRECTS: Final = 5
_T = TypeVar("_T")

#: An Authorization header value, or a callable giving the current one (None: send none).
Authorization = str | None | Callable[[], str | None]
_USER_AGENT: Final = "ociforge"


class Body(Protocol):
    """An upload body: ``read(n)`` and ``len()``, so requests sends a Content-Length.

    Deliberately not an ``io.RawIOBase``: requests would then add ``Transfer-Encoding:
    chunked`` beside the length and the registry would misread the body.
    """

    def read(self, size: int = -1, /) -> bytes | memoryview: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Response:
    """A response read to its end (or to a limit): status, headers and body bytes."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str


def ssl_context(options: TlsOptions) -> ssl.SSLContext:
    """The TLS context for a registry: system roots plus ``cert_dir``'s, or no checks at all.

    In ``cert_dir`` (the ``/etc/containers/certs.d/HOST`` layout) every ``*.crt`` is a root
    and every ``NAME.cert`` needs its ``NAME.key``.
    """
    if options.verify:
        try:
            context = ssl.create_default_context(cafile=options.ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise RegistryError(f"CA file {options.ca_file}: cannot load it: {exc}") from None
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.client_cert:
        try:
            context.load_cert_chain(options.client_cert, options.client_key or None)
        except (ssl.SSLError, OSError) as exc:
            raise RegistryError(
                f"client certificate {options.client_cert}: cannot load it: {exc}"
            ) from None
    directory = options.cert_dir
    if directory:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise RegistryError(f"--cert-dir {directory}: {exc.strerror}") from None
        for name in names:
            path = os.path.join(directory, name)
            try:
                if name.endswith(".crt") and options.verify:
                    context.load_verify_locations(cafile=path)
                elif name.endswith(".cert"):
                    key = path[: -len(".cert")] + ".key"
                    if not os.path.exists(key):
                        raise RegistryError(f"--cert-dir {directory}: {name} has no matching .key")
                    context.load_cert_chain(path, key)
            except (ssl.SSLError, OSError) as exc:
                raise RegistryError(f"--cert-dir {directory}: cannot load {name}: {exc}") from None
    return context


class _Adapter(requests.adapters.HTTPAdapter):
    """Connections with our TLS context and 1 MiB socket writes for upload bodies."""

    def __init__(self, context: ssl.SSLContext, pool_size: int) -> None:
        self._context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **kwargs: Any
    ) -> None:
        # urllib3 otherwise reads upload bodies 16 KiB at a time.
        super().init_poolmanager(connections, maxsize, block, blocksize=CHUNK_SIZE, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        checks = self._context.verify_mode != ssl.CERT_NONE
        return host, {
            "ssl_context": self._context,
            "cert_reqs": "CERT_REQUIRED" if checks else "CERT_NONE",
        }

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Verification is configured in the context; requests would load certifi's bundle.
        return


def describe_exception(exc: BaseException) -> str:
    """A short reason for a connection-level failure, for one-line messages."""
    chain = _causes(exc)
    # The innermost OS error says most; urllib3 wraps refusals and DNS failures in
    # "timeout" classes (NameResolutionError is a NewConnectionError, a ConnectTimeoutError).
    for current in chain:
        if isinstance(current, socket.gaierror | urllib3.exceptions.NameResolutionError):
            host = getattr(getattr(current, "conn", None), "host", "")
            return f"cannot resolve host name {host}".rstrip()
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {current.verify_message}"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset by peer"
    for current in chain:
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or current}"
    for current in chain:
        if isinstance(current, TimeoutError | requests.Timeout | urllib3.exceptions.TimeoutError):
            return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
        return "connection broken while reading the response"
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        current = nxt
    return chain


def _tls_failure(exc: BaseException) -> bool:
    return any(
        isinstance(e, ssl.SSLError | requests.exceptions.SSLError | urllib3.exceptions.SSLError)
        for e in _causes(exc)
    )


#: The exceptions that mean "the connection failed", whatever layer raised them.
CONNECTION_ERRORS: Final = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    ssl.SSLError,
    OSError,
)


class Transport:
    """HTTP for one registry (and its token server), shared by every thread of a transfer."""

    def __init__(
        self,
        *,
        tls: TlsOptions | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        proxies: Mapping[str, str] | None = None,
        trace: Callable[[str], None] | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.tls = tls or TlsOptions()
        self.retry = retry or RetryPolicy()
        #: Called with one line per HTTP exchange, retry and redirect (``--debug``).
        self.trace = trace
        #: Called with a line for each retry and each capped Retry-After (stderr notes).
        self.notice = notice
        deadline = self.retry.deadline
        self._deadline_at = time.monotonic() + deadline if deadline > 0 else None
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers["User-Agent"] = _USER_AGENT
        adapter = _Adapter(ssl_context(self.tls), pool_size)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        if proxies is not None:
            # Given proxies replace the environment's (HTTPS_PROXY, NO_PROXY…); {} means none.
            self._session.trust_env = False
            self._session.proxies.update(proxies)
        if not self.tls.verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._lock = threading.Lock()
        self.requests_sent = 0

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def sleep(self, seconds: float) -> None:
        """Wait before a retry (tests substitute a clock that does not)."""
        self._sleep(seconds)

    def _send_once(
        self,
        request: Request,
        *,
        authorization: Authorization,
        body: bytes | Body | None,
        redirects: bool,
        what: str,
    ) -> requests.Response:
        # Asked afresh for every attempt: a token may lapse while a retry waits.
        value = authorization() if callable(authorization) else authorization
        home = origin(request.url)
        url = request.url
        for hop in range(MAX_REDIRECTS + 1):
            headers = dict(request.headers)
            # Credentials belong to the origin they were asked for; a redirect elsewhere
            # (blob storage, or a hostile registry's target) gets none.
            if value and origin(url) == home:
                headers["Authorization"] = value
            response = self._send_hop(
                request.method, url, headers, body if hop == 0 else None, what=what
            )
            location = response.headers.get("Location")
            if not redirects or response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            target = urljoin(url, location)
            scheme = urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                raise RegistryError(f"{what}: redirected to a {scheme}: URL; refused")
            if origin(url)[0] == "https" and scheme == "http":
                raise RegistryError(f"{what}: redirected from https to http; refused")
            self._note(f"redirected to {_without_credentials(target)}")
            url = target
        raise RegistryError(f"{what}: more than {MAX_REDIRECTS} redirects; refused")

    def _send_hop(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | Body | None,
        *,
        what: str,
    ) -> requests.Response:
        with self._lock:
            self.requests_sent += 1
        try:
            response = self._session.request(
                method,
                url,
                headers=headers,
                # The stubs want bytes from read(); http.client sends memoryviews just as well.
                data=cast(Any, body),
                stream=True,
                allow_redirects=False,
                timeout=(self.retry.connect_timeout, self.retry.read_timeout),
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise RegistryError(f"{what}: invalid URL: {exc}") from None
        except CONNECTION_ERRORS as exc:
            reason = describe_exception(exc)
            error = TransportError(f"{what}: {reason}")
            # A failed TLS handshake, an unknown name or a closed port fail the same way a
            # moment later; only dropped connections and timeouts are worth a retry.
            error.temporary = not _tls_failure(exc) and not reason.startswith(
                ("cannot resolve", "connection refused")
            )
            raise error from exc
        if self.trace is not None:
            size = response.headers.get("Content-Length", "?")
            self.trace(
                f"{method} {_without_credentials(url)} -> {response.status_code} ({size} bytes)"
            )
        return response

    def _read_budget(self) -> float:
        """Seconds a small response may take to arrive whole (the deadline may shorten it)."""
        budget = self.retry.read_timeout
        if self._deadline_at is not None:
            budget = min(budget, max(0.0, self._deadline_at - time.monotonic()))
        return budget

    def _note(self, text: str) -> None:
        if self.trace is not None:
            self.trace(text)

    def _perform(
        self,
        request: Request,
        consume: Callable[[requests.Response], _T],
        *,
        authorization: Authorization,
        body: bytes | Body | None,
        repeatable: bool,
        redirects: bool,
        what: str,
    ) -> _T:
        attempt = 0
        while True:
            attempt += 1
            self._check_deadline(what)
            last = not repeatable or attempt >= self.retry.attempts
            try:
                response = self._send_once(
                    request, authorization=authorization, body=body, redirects=redirects, what=what
                )
                if response.status_code not in _RETRY_STATUSES or last:
                    return consume(response)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                reason = f"{response.status_code} {response.reason or ''}".strip()
                response.close()
            except TransportError as exc:
                if last or not exc.temporary:
                    raise
                retry_after = 0.0
                reason = str(exc).removeprefix(f"{what}: ")
            if retry_after > self.retry.max_retry_after:
                self._warn(
                    f"{what}: the server asked to wait {retry_after:.0f} s;"
                    f" waiting {self.retry.max_retry_after:.0f} s at most"
                )
            delay = self.retry.delay(attempt, retry_after)
            if self._deadline_at is not None and time.monotonic() + delay > self._deadline_at:
                raise TransportError(
                    f"{what}: {reason}; giving up, a retry would pass the"
                    f" {self.retry.deadline:g} s deadline"
                )
            self._warn(
                f"{what}: {reason}; retry {attempt} of {self.retry.attempts - 1} in {delay:.1f} s"
            )
            self.sleep(delay)

    def _check_deadline(self, what: str) -> None:
        if self._deadline_at is not None and time.monotonic() >= self._deadline_at:
            raise TransportError(f"{what}: the {self.retry.deadline:g} s deadline passed")

    def _warn(self, text: str) -> None:
        if self.notice is not None:
            self.notice(text)

    def open(
        self,
        request: Request,
        *,
        authorization: Authorization,
        what: str,
        redirects: bool = True,
    ) -> requests.Response:
        """Send a body-less ``GET`` and return the open response (body unread; close it).

        Like every repeatable request it is sent again after a connection failure, a ``429``
        or a ``5xx``, at most :attr:`RetryPolicy.attempts` times in all. Redirects are
        followed unless ``redirects`` is False (blobs are often served from a storage host);
        requests drops the Authorization header when a redirect changes host.
        """
        return self._perform(
            request,
            lambda response: response,
            authorization=authorization,
            body=None,
            repeatable=True,
            redirects=redirects,
            what=what,
        )

    def request(
        self,
        request: Request,
        *,
        authorization: Authorization = None,
        body: bytes | Body | None = None,
        repeatable: bool = True,
        redirects: bool = False,
        limit: int,
        what: str,
    ) -> Response:
        """Send ``request`` and read the response body, up to ``limit`` bytes.

        A success body over ``limit`` is an error; an error body is cut at 64 KiB. A body
        cut short by the connection counts as a connection failure (and is retried).
        """

        def consume(response: requests.Response) -> Response:
            try:
                ok = response.status_code < 400
                cap = limit if ok else MAX_ERROR_BYTES
                content = (
                    b""
                    if request.method == "HEAD"
                    else read_limited(response, cap, what=what, seconds=self._read_budget())
                )
                if ok and len(content) > limit:
                    raise SizeMismatch(f"{what}: response larger than {limit} bytes; refused")
                return Response(
                    response.status_code,
                    response.reason or "",
                    response.headers,
                    content[:cap],
                    response.url,
                )
            finally:
                response.close()

        return self._perform(
            request,
            consume,
            authorization=authorization,
            body=body,
            repeatable=repeatable,
            redirects=redirects,
            what=what,
        )


def _without_credentials(url: str) -> str:
    """``url`` without user info or query (query strings carry signed storage tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _too_slow(what: str, seconds: float) -> TransportError:
    error = TransportError(f"{what}: the response did not arrive within {seconds:g} s")
    # A server that drips bytes will drip them again; asking anew only doubles the wait.
    error.temporary = False
    return error


def read_limited(
    response: requests.Response, limit: int, *, what: str, seconds: float = 0.0
) -> bytes:
    """Up to ``limit + 1`` bytes of a streamed response body (one more shows it is too long).

    With ``seconds``, the whole body must arrive within that time: the read timeout alone
    bounds each wait, and a server sending a byte at a time never trips it.
    """
    parts: list[bytes] = []
    total = 0
    expired = threading.Event()

    def expire() -> None:
        # Closing the connection from another thread is the only way to end a blocked read.
        expired.set()
        connection = getattr(response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        with contextlib.suppress(OSError):
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, expire) if seconds > 0 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        for chunk in response.iter_content(64 * 1024):
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                break
    except (*CONNECTION_ERRORS, ValueError, AttributeError) as exc:
        if expired.is_set():
            raise _too_slow(what, seconds) from None
        raise TransportError(f"{what}: {describe_exception(exc)}") from exc
    finally:
        if timer is not None:
            timer.cancel()
    if expired.is_set():
        raise _too_slow(what, seconds)
    return b"".join(parts)[: limit + 1]
