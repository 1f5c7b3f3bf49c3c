"""A loopback HTTP/1.1 proxy that injects faults between a client and a real registry.

It forwards requests byte for byte (the ``Host`` header untouched, so the registry's upload
``Location`` URLs point back at the proxy) and applies :class:`Fault` rules: reset the
connection after N bytes of a request or response body, answer a request itself (``429``
with ``Retry-After``), hold a request back for a while, add response headers, or flip a byte
of a response body. ``log`` records every request it saw, with the time it arrived.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

_MAX_HEAD = 64 * 1024


@dataclass
class Fault:
    """Apply ``action`` to the next ``times`` requests whose method and path match."""

    action: Literal["reset_request", "reset_response", "respond", "delay", "header", "corrupt"]
    method: str = ""
    path: str = ""
    after: int = 0
    times: int = 1
    status: int = 429
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: Let this many matching requests through untouched first.
    skip: int = 0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if (self.method and self.method != method) or self.path not in path:
            return False
        if self.skip:
            self.skip -= 1
            return False
        return self.hits < self.times


@dataclass
class Seen:
    method: str
    path: str
    at: float
    status: int = 0
    fault: str = ""


class _Reset(Exception):
    pass


def _read_head(stream: BinaryIO) -> list[bytes] | None:
    lines: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(_MAX_HEAD)
        if not line:
            return lines if lines else None
        total += len(line)
        if total > _MAX_HEAD:
            raise ValueError("head too large")
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line)


def _header(lines: list[bytes], name: bytes) -> str:
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, upstream: str, faults: list[Fault] | None = None) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self.faults = list(faults or [])
        self.log: list[Seen] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ref(self, repository: str) -> str:
        return f"docker://{self.host}/{repository}"

    def seen(self, method: str = "", path: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.log if (not method or s.method == method) and path in s.path]

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _match(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        cin = client.makefile("rb")
        uin: BinaryIO | None = None
        try:
            if client.recv(1, socket.MSG_PEEK) == b"\x16":
                # A TLS ClientHello: answer as Go's plain HTTP server does, so the client sees
                # a protocol mismatch rather than a dropped connection.
                client.recv(64 * 1024)
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                client.shutdown(socket.SHUT_WR)
                return
            while True:
                head = _read_head(cin)
                if not head:
                    return
                method, path, _ = head[0].decode("latin-1").split(" ", 2)
                seen = Seen(method, path, time.monotonic())
                with self._lock:
                    self.log.append(seen)
                fault = self._match(method, path)
                if fault is not None:
                    seen.fault = fault.action
                if fault is not None and fault.action == "respond":
                    self._drain_body(head, cin)
                    seen.status = fault.status
                    self._respond(client, fault)
                    continue
                if fault is not None and fault.action == "delay":
                    time.sleep(fault.seconds)
                if upstream is None:
                    upstream = socket.create_connection(self._upstream)
                    uin = upstream.makefile("rb")
                assert uin is not None
                action = fault.after if fault is not None else 0, fault.action if fault else ""
                limit = action[0] if action[1] == "reset_request" else None
                if limit == 0:
                    raise _Reset  # dropped before the registry saw anything
                upstream.sendall(b"".join(head) + b"\r\n")
                self._body(head, cin, upstream, limit, request=True, method=method)
                response = _read_head(uin)
                if not response:
                    return
                seen.status = int(response[0].split()[1])
                extra = b""
                if action[1] == "header" and fault is not None:
                    # Set (replace, not repeat) the headers the fault names.
                    names = {k.lower().encode() for k in fault.headers}
                    response = [
                        line
                        for line in response
                        if line.partition(b":")[0].strip().lower() not in names
                    ]
                    extra = "".join(f"{k}: {v}\r\n" for k, v in fault.headers.items()).encode()
                client.sendall(b"".join(response) + extra + b"\r\n")
                limit = action[0] if action[1] == "reset_response" else None
                flip = action[0] if action[1] == "corrupt" else None
                self._body(response, uin, client, limit, request=False, method=method, flip=flip)
                if (
                    "close" in _header(head, b"connection").lower()
                    or "close" in _header(response, b"connection").lower()
                ):
                    return
        except (_Reset, OSError, ValueError):
            _reset(client)
            if upstream is not None:
                _reset(upstream)
            return
        finally:
            with contextlib.suppress(OSError):
                cin.close()
            with contextlib.suppress(OSError):
                client.close()
            if upstream is not None:
                with contextlib.suppress(OSError):
                    upstream.close()

    def _respond(self, client: socket.socket, fault: Fault) -> None:
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
        lines = [f"HTTP/1.1 {fault.status} Injected", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in fault.headers.items()]
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def _drain_body(self, head: list[bytes], stream: BinaryIO) -> None:
        length = _header(head, b"content-length")
        left = int(length) if length.isdigit() else 0
        while left:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                return
            left -= len(chunk)

    def _body(
        self,
        head: list[bytes],
        source: BinaryIO,
        sink: socket.socket,
        limit: int | None,
        *,
        request: bool,
        method: str,
        flip: int | None = None,
    ) -> None:
        sent = 0

        def forward(data: bytes) -> None:
            nonlocal sent
            if flip is not None and sent <= flip < sent + len(data):
                index = flip - sent
                data = data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]
            if limit is not None and sent + len(data) >= limit:
                sink.sendall(data[: max(0, limit - sent)])
                raise _Reset
            sink.sendall(data)
            sent += len(data)

        if not request:
            status = int(head[0].split()[1])
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                return
        if "chunked" in _header(head, b"transfer-encoding").lower():
            while True:
                line = source.readline(1024)
                if not line:
                    raise _Reset
                forward(line)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = source.readline(1024)
                        forward(trailer)
                        if trailer in (b"\r\n", b"\n", b""):
                            return
                data = source.read(size + 2)
                forward(data)
            return
        length = _header(head, b"content-length")
        if length.isdigit():
            left = int(length)
        elif request:
            return
        else:
            left = -1  # until the server closes
        while left != 0:
            chunk = source.read1(1 << 20) if left < 0 else source.read1(min(left, 1 << 20))  # type: ignore[attr-defined]
            if not chunk:
                if left > 0:
                    raise _Reset
                return
            forward(chunk)
            if left > 0:
                left -= len(chunk)
