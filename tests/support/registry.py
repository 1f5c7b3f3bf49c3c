"""The real CNCF distribution registry (``/usr/bin/docker-registry``) on 127.0.0.1 for tests.

``start_registry`` writes a config (port 0, so no free-port race), starts ``serve``, reads the
port from the ``listening on 127.0.0.1:PORT`` log line and waits for ``/v2/``. Modes: no auth,
htpasswd (bcrypt from ``htpasswd -Bbn``) and token auth against :class:`TokenServer`; any of
them over TLS with a self-signed certificate. The registry's own log is the request counter
(``requests()``), so tests count what the server saw, not what the client claims.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ociforge import RegistryOptions
from tests.support.pki import tls_pair
from tests.support.tokenserver import ISSUER, SERVICE, TokenServer
from tests.support.tools import need

BINARY = "/usr/bin/docker-registry"
USER = "testuser"
PASSWORD = "testpass"

_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')


@dataclass(frozen=True)
class Logged:
    """One request the registry answered."""

    method: str
    uri: str
    status: int


@dataclass
class Registry:
    host: str
    scheme: str
    datadir: Path
    process: subprocess.Popen[bytes]
    auth: str
    user: str = ""
    password: str = ""
    cert_dir: Path | None = None
    token: TokenServer | None = None
    _log: Path = field(default=Path())

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def creds(self) -> str:
        return f"{self.user}:{self.password}"

    @property
    def ca(self) -> str | None:
        return str(self.cert_dir / "ca.crt") if self.cert_dir else None

    def ref(self, repository: str) -> str:
        return f"docker://{self.host}/{repository}"

    def requests(self) -> list[Logged]:
        """Every request the registry has answered so far, in order."""
        out = []
        for line in self._log.read_text(errors="replace").splitlines():
            # Answered requests log "response completed"; refused ones only the auth warning.
            refused = 'msg="error authorizing context' in line
            if not refused and 'msg="response completed' not in line:
                continue
            fields = {k: v.strip('"') for k, v in _FIELD.findall(line)}
            status = 401 if refused else int(fields.get("http.response.status", "0") or 0)
            out.append(
                Logged(
                    fields.get("http.request.method", ""),
                    fields.get("http.request.uri", ""),
                    status,
                )
            )
        return out

    def uploads(self) -> list[Logged]:
        """Requests that carry or start blob uploads (POST/PATCH/PUT under /blobs/uploads/)."""
        return [
            r
            for r in self.requests()
            if "/blobs/uploads/" in r.uri and r.method in ("POST", "PATCH", "PUT")
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.token is not None:
            self.token.stop()


def start_registry(
    root: Path,
    *,
    auth: Literal["none", "htpasswd", "token"] = "none",
    tls: bool = False,
    token: TokenServer | None = None,
    client_ca: Path | None = None,
    realm: str = "",
) -> Registry:
    """Start a registry with its data under ``root``; stop it with :meth:`Registry.stop`."""
    need("docker-registry")
    root.mkdir(parents=True, exist_ok=True)
    storage = root / "storage"
    storage.mkdir(exist_ok=True)
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        "  addr: 127.0.0.1:0",
        "  secret: ociforge-test-not-secret",
    ]
    cert_dir: Path | None = None
    if tls:
        cert, key = tls_pair().write(root / "certs", "domain")
        cert_dir = root / "certs.d"
        cert_dir.mkdir()
        shutil.copy(cert, cert_dir / "ca.crt")
        lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
        if client_ca is not None:
            # Only clients presenting a certificate this CA signed get past the handshake.
            lines += ["    clientcas:", f"      - {client_ca}"]
    user = password = ""
    if auth == "htpasswd":
        need("htpasswd")
        user, password = USER, PASSWORD
        hashed = subprocess.run(
            ["htpasswd", "-Bbn", user, password], capture_output=True, check=True
        ).stdout
        (root / "htpasswd").write_bytes(hashed)
        lines += [
            "auth:",
            "  htpasswd:",
            "    realm: ociforge-test",
            f"    path: {root / 'htpasswd'}",
        ]
    elif auth == "token":
        token = (token or TokenServer()).start()
        user, password = next(iter(token.users.items()))
        bundle, _ = token.signer.write(root / "certs", "token")
        lines += [
            "auth:",
            "  token:",
            f"    realm: {realm or token.realm}",
            f"    service: {SERVICE}",
            f"    issuer: {ISSUER}",
            f"    rootcertbundle: {bundle}",
        ]
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    return launch_registry(
        config,
        root,
        scheme="https" if tls else "http",
        auth=auth,
        user=user,
        password=password,
        cert_dir=cert_dir,
        token=token,
    )


def launch_registry(
    config: Path,
    root: Path,
    *,
    scheme: str = "http",
    auth: str = "none",
    user: str = "",
    password: str = "",
    cert_dir: Path | None = None,
    token: TokenServer | None = None,
) -> Registry:
    """``docker-registry serve CONFIG`` (its ``http.addr`` port 0); wait for its port."""
    need("docker-registry")
    log = root / "registry.log"
    # Every REGISTRY_* variable overrides the config file; none may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BINARY, "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + 20
    port = ""
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_text(errors="replace"))
        if match:
            port = match.group(1)
            break
        if process.poll() is not None:
            break
        time.sleep(0.01)
    registry = Registry(
        f"127.0.0.1:{port}",
        scheme,
        root,
        process,
        auth,
        user,
        password,
        cert_dir,
        token,
        log,
    )
    if not port:
        registry.stop()
        raise RuntimeError(f"registry did not start:\n{log.read_text(errors='replace')[-2000:]}")
    return registry


def ociforge_flags(registry: Registry, side: str = "") -> list[str]:
    """ociforge (and skopeo) flags to reach ``registry``: TLS and credentials."""
    dash = f"{side}-" if side else ""
    flags = [f"--{dash}tls-verify=false"] if registry.scheme == "http" else []
    if registry.cert_dir is not None:
        flags.append(f"--{dash}cert-dir={registry.cert_dir}")
    if registry.user:
        flags.append(f"--{dash}creds={registry.creds}")
    return flags


def skopeo_flags(registry: Registry, side: str = "") -> list[str]:
    """skopeo uses the same flag names as ociforge (by design)."""
    return ociforge_flags(registry, side)


def options_for(registry: Registry, **extra: object) -> RegistryOptions:
    """``RegistryOptions`` reaching ``registry`` (TLS trust, credentials) plus ``extra``."""
    return RegistryOptions(
        tls_verify=registry.scheme == "https",
        cert_dir=str(registry.cert_dir) if registry.cert_dir else None,
        creds=registry.creds if registry.user else None,
        **extra,  # type: ignore[arg-type]
    )
