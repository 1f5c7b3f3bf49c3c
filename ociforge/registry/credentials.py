"""Registry credentials from ``--creds``, auth files and ``docker-credential-*`` helpers.

The search follows containers-auth.json(5) and Docker: ``--authfile`` (or
``REGISTRY_AUTH_FILE``, else ``$XDG_RUNTIME_DIR/containers/auth.json``) first, then
``$XDG_CONFIG_HOME/containers/auth.json``, ``$DOCKER_CONFIG/config.json`` (or
``~/.docker/config.json``) and the legacy ``~/.dockercfg``. In each file a ``credHelpers``
entry wins over ``auths``, and ``credsStore`` answers for registries with no usable entry.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import AuthError, InvalidReference, ManifestError, NotFound
from ..spec import parse_json_object
from .reference import DOCKER_HUB

__all__ = [
    "Credentials",
    "HelperRunner",
    "auth_file_paths",
    "find_credentials",
    "normalise_auth_key",
    "parse_creds",
    "run_credential_helper",
]

#: What Docker calls Docker Hub in ``auths`` keys and in credential-helper requests.
_DOCKER_HUB_KEY: Final = "https://index.docker.io/v1/"
_MAX_AUTH_FILE: Final = 4 * 1024 * 1024
_HELPER_TIMEOUT: Final = 60.0
#: The user name helpers return when the secret is an identity (refresh) token.
_TOKEN_USER: Final = "<token>"

#: Asks helper NAME for a server's credentials: ``helper(NAME, SERVER) -> Credentials | None``.
HelperRunner = Callable[[str, str], "Credentials | None"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name with a password, or an identity (OAuth2 refresh) token."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    @property
    def empty(self) -> bool:
        """True if there is nothing to authenticate with."""
        return not (self.username or self.password or self.identity_token)


def parse_creds(text: str) -> Credentials:
    """Parse ``--creds USER:PASSWORD`` (the password may contain colons)."""
    username, sep, password = text.partition(":")
    if not sep or not username:
        raise InvalidReference("--creds must be USER:PASSWORD")
    return Credentials(username, password)


def normalise_auth_key(key: str) -> str:
    """An ``auths`` key as a registry name: scheme and ``/v1/``-style paths dropped.

    Docker writes ``https://index.docker.io/v1/`` and ``http://host/v2/``; containers tools
    write ``host`` or ``host/namespace/repo``. Keys with a scheme are Docker's, where the path
    never names a repository.
    """
    text = key.strip()
    lowered = text.lower()
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :].split("/", 1)[0]
            break
    host, sep, path = text.partition("/")
    host = host.lower()
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = DOCKER_HUB
    if path in ("v1", "v1/", "v2", "v2/"):
        path = ""
    return f"{host}/{path.rstrip('/')}" if sep and path.strip("/") else host


def auth_file_paths(
    *, authfile: str | None = None, env: Mapping[str, str] | None = None
) -> list[Path]:
    """Every file searched for credentials, in order."""
    environ = os.environ if env is None else env
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    paths: list[Path] = []
    primary = authfile or environ.get("REGISTRY_AUTH_FILE", "")
    if primary:
        paths.append(Path(primary))
    elif environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    paths.append(config_home / "containers" / "auth.json")
    docker_dir = (
        Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else home / ".docker"
    )
    paths.append(docker_dir / "config.json")
    paths.append(home / ".dockercfg")
    return paths


def _load(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_AUTH_FILE + 1)
    except FileNotFoundError:
        if required:
            raise NotFound(f"auth file {path}: no such file") from None
        return None
    except OSError as exc:
        raise AuthError(f"auth file {path}: cannot read: {exc.strerror}") from None
    if len(raw) > _MAX_AUTH_FILE:
        raise AuthError(f"auth file {path}: larger than {_MAX_AUTH_FILE} bytes")
    if not raw.strip():
        return {}
    try:
        return parse_json_object(raw, f"auth file {path}")
    except ManifestError as exc:
        raise AuthError(str(exc)) from None


def _entry_credentials(entry: object, where: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken")
    auth = entry.get("auth")
    username, password = entry.get("username"), entry.get("password")
    user = ""
    secret = ""
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError(f"{where}: 'auth' is not base64 of USER:PASSWORD") from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise AuthError(f"{where}: 'auth' is not base64 of USER:PASSWORD")
    elif isinstance(username, str) and isinstance(password, str):
        user, secret = username, password
    creds = Credentials(user, secret, token if isinstance(token, str) else "")
    return None if creds.empty else creds


def _candidate_keys(registry: str, repository: str) -> Iterator[str]:
    # containers-auth.json(5): the most specific namespace first, the bare registry last.
    parts = repository.split("/") if repository else []
    for end in range(len(parts), 0, -1):
        yield f"{registry}/{'/'.join(parts[:end])}"
    yield registry


def _helper_server(registry: str) -> str:
    return _DOCKER_HUB_KEY if registry == DOCKER_HUB else registry


def run_credential_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-HELPER get`` for ``server``'s credentials (None if it has none).

    The protocol: the server URL on stdin, ``{"Username", "Secret"}`` JSON on stdout; a
    user name of ``<token>`` marks the secret as an identity token.
    """
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise AuthError(f"credential helper {program} is not installed (not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"credential helper {program} did not answer in time") from None
    output = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if "credentials not found" in output.lower():
            return None
        message = " ".join((output or proc.stderr.decode(errors="replace")).split())[:200]
        raise AuthError(f"credential helper {program} failed for {server}: {message}")
    try:
        answer = json.loads(output)
    except ValueError:
        raise AuthError(f"credential helper {program} returned invalid JSON") from None
    if not isinstance(answer, dict):
        raise AuthError(f"credential helper {program} returned invalid JSON")
    user, secret = answer.get("Username", ""), answer.get("Secret", "")
    if not isinstance(user, str) or not isinstance(secret, str):
        raise AuthError(f"credential helper {program} returned invalid JSON")
    if user == _TOKEN_USER:
        return Credentials(identity_token=secret)
    creds = Credentials(user, secret)
    return None if creds.empty else creds


def _from_file(
    document: Mapping[str, Any], path: Path, registry: str, repository: str, helper: HelperRunner
) -> Credentials | None:
    helpers = document.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if isinstance(name, str) and name and normalise_auth_key(key) == registry:
                return helper(name, _helper_server(registry))
    auths = document.get("auths")
    if auths is None and path.name == ".dockercfg":
        auths = document  # the legacy format is the auths map itself
    if isinstance(auths, dict):
        normalised = {normalise_auth_key(k): v for k, v in auths.items() if isinstance(k, str)}
        for key in _candidate_keys(registry, repository):
            found = _entry_credentials(normalised.get(key), f"auth file {path}: {key}")
            if found is not None:
                return found
    store = document.get("credsStore")
    if isinstance(store, str) and store:
        return helper(store, _helper_server(registry))
    return None


def find_credentials(
    registry: str,
    repository: str = "",
    *,
    creds: str | Credentials | None = None,
    authfile: str | None = None,
    env: Mapping[str, str] | None = None,
    helper: HelperRunner = run_credential_helper,
) -> Credentials | None:
    """The credentials for ``registry`` (and ``repository``), or None for anonymous access.

    ``creds`` (``--creds``) wins over every file; an explicit ``authfile`` must exist.
    """
    if isinstance(creds, Credentials):
        return creds
    if creds:
        return parse_creds(creds)
    for index, path in enumerate(auth_file_paths(authfile=authfile, env=env)):
        document = _load(path, required=index == 0 and bool(authfile))
        if document:
            found = _from_file(document, path, registry, repository, helper)
            if found is not None:
                return found
    return None
