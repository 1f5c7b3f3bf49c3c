"""A scripted loopback HTTP server: each path answers as told, every request is logged.

Routes map a path prefix to an :class:`Answer` (status, headers, body) or to a callable
taking the handler, for servers that misbehave on purpose (drip bytes, stall, redirect).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Answer", "Hit", "StubServer"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]


Route = Answer | Callable[[http.server.BaseHTTPRequestHandler], None]


class StubServer:
    """Start on a free loopback port; ``routes`` may change while it runs; stop with stop()."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.log: list[Hit] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                stub.log.append(Hit(self.command, self.path, dict(self.headers.items())))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                for prefix in sorted(stub.routes, key=len, reverse=True):
                    if self.path.startswith(prefix):
                        route = stub.routes[prefix]
                        break
                else:
                    route = Answer(404, body=b'{"errors":[{"code":"NOT_FOUND"}]}')
                if isinstance(route, Answer):
                    self.send_response(route.status)
                    for key, value in route.headers.items():
                        self.send_header(key, value.replace("{base}", stub.url))
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(route.body)
                else:
                    route(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _serve

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def hits(self, path: str = "") -> list[Hit]:
        return [hit for hit in self.log if hit.path.startswith(path)]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
