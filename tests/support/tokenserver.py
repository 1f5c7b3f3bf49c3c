"""A small docker/distribution token server for tests: RS256 JWTs with an ``x5c`` header.

``GET /token?service=S&scope=…`` (Basic auth optional; anonymous users get ``pull`` only) and
the OAuth2 ``POST /token`` (``grant_type=password`` or ``refresh_token``) answer
``{"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}``. Knobs make it
misbehave on purpose: short lifetimes, lifetimes that lie, no POST endpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.pki import KeyPair, token_signer

ISSUER = "ociforge-test-issuer"
SERVICE = "ociforge-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenLog:
    method: str
    user: str
    scopes: list[str]
    status: int
    grant: str = ""


@dataclass
class TokenServer:
    """Configure, then :meth:`start`; ``log`` records every token request."""

    users: dict[str, str] = field(default_factory=lambda: {"testuser": "testpass"})
    #: What the JSON answer claims; None leaves ``expires_in`` out.
    expires_in: int | None = 300
    #: How long the JWT is really valid (``exp``); defaults to ``expires_in``.
    jwt_lifetime: int | None = None
    oauth_post: bool = True
    #: ``grant(user, scope) -> actions`` decides access; default: users get all, anonymous pull.
    grant: Callable[[str, str, list[str]], list[str]] | None = None
    log: list[TokenLog] = field(default_factory=list)
    signer: KeyPair = field(default_factory=token_signer)

    def __post_init__(self) -> None:
        self._server: http.server.ThreadingHTTPServer | None = None
        self.refresh_tokens: dict[str, str] = {}

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def _actions(self, user: str, name: str, actions: list[str]) -> list[str]:
        if self.grant is not None:
            return self.grant(user, name, actions)
        return actions if user else [a for a in actions if a == "pull"]

    def token(self, user: str, service: str, scopes: list[str]) -> str:
        access: list[dict[str, Any]] = []
        for text in scopes:
            for one in text.split(" "):
                kind, _, rest = one.partition(":")
                name, _, acts = rest.rpartition(":")
                if not kind or not name:
                    continue
                access.append(
                    {
                        "type": kind,
                        "name": name,
                        "actions": self._actions(user, name, acts.split(",")),
                    }
                )
        now = int(time.time())
        lifetime = self.jwt_lifetime if self.jwt_lifetime is not None else (self.expires_in or 60)
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.signer.cert_der).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": service,
            "exp": now + lifetime,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        key = self.signer.key
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def answer(
        self, user: str, service: str, scopes: list[str], *, refresh: bool
    ) -> dict[str, Any]:
        value = self.token(user, service, scopes)
        document: dict[str, Any] = {
            "token": value,
            "access_token": value,
            "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.expires_in is not None:
            document["expires_in"] = self.expires_in
        if refresh and user:
            token = "refresh-" + uuid.uuid4().hex
            self.refresh_tokens[token] = user
            document["refresh_token"] = token
        return document

    def start(self) -> TokenServer:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def reply(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                scopes = query.get("scope", [])
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    known = owner.users.get(name)
                    refresh_user = owner.refresh_tokens.get(password)
                    if known is not None and known == password:
                        user = name
                    elif refresh_user is not None:
                        user = refresh_user
                    else:
                        owner.log.append(TokenLog("GET", name, scopes, 401))
                        self.reply(401, {"details": "incorrect username or password"})
                        return
                owner.log.append(TokenLog("GET", user, scopes, 200))
                offline = query.get("offline_token", ["false"])[0] == "true"
                self.reply(
                    200, owner.answer(user, query.get("service", [""])[0], scopes, refresh=offline)
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if not owner.oauth_post:
                    owner.log.append(TokenLog("POST", "", [], 404))
                    self.reply(404, {"error": "not found"})
                    return
                grant = form.get("grant_type", [""])[0]
                scopes = form.get("scope", [])
                user = ""
                if grant == "password":
                    name = form.get("username", [""])[0]
                    if owner.users.get(name) == form.get("password", [""])[0]:
                        user = name
                elif grant == "refresh_token":
                    user = owner.refresh_tokens.get(form.get("refresh_token", [""])[0], "")
                if not user:
                    owner.log.append(TokenLog("POST", "", scopes, 401, grant))
                    self.reply(401, {"error": "invalid_grant"})
                    return
                owner.log.append(TokenLog("POST", user, scopes, 200, grant))
                self.reply(
                    200, owner.answer(user, form.get("service", [""])[0], scopes, refresh=True)
                )

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
