"""Registry authentication: challenges, scopes, basic and bearer-token flows, a token cache.

The flow is the one Docker's clients follow. A ``401`` carries a ``WWW-Authenticate``
challenge; for ``Basic`` the credentials go to the registry itself, for ``Bearer`` they go to
the token server named by ``realm``, which returns a token for the scopes asked for. Tokens are
cached per (realm, service, scopes), renewed before ``expires_in`` runs out and dropped when the
registry rejects them. The only I/O is the ``fetch`` callable the transport supplies.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import urlencode, urlsplit

from ..errors import AuthError, ManifestError
from ..spec import parse_json_object
from .credentials import Credentials
from .protocol import describe_error, origin

__all__ = [
    "MAX_TOKEN_BYTES",
    "Authenticator",
    "Challenge",
    "Fetch",
    "Scope",
    "Token",
    "TokenRequest",
    "basic_header",
    "check_realm",
    "merge_scopes",
    "parse_challenges",
    "parse_token_response",
    "repository_scope",
    "token_requests",
]

#: Token responses are small JSON documents; anything larger is refused unread.
MAX_TOKEN_BYTES: Final = 1024 * 1024
#: The token lifetime Docker's token spec assumes when ``expires_in`` is missing.
_DEFAULT_LIFETIME: Final = 60.0
_CLIENT_ID: Final = "ociforge"
_MAX_LIFETIME: Final = 24 * 3600.0

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TOKEN68 = re.compile(r"[0-9A-Za-z._~+/-]+=*")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: a scheme (lowercase) and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def realm(self) -> str:
        """The ``realm`` parameter (the token server URL for bearer challenges)."""
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        """The ``service`` parameter a token server expects back."""
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """The scopes the registry says the request needed."""
        out = []
        for text in self.params.get("scope", "").split():
            try:
                out.append(Scope.parse(text))
            except AuthError:
                continue
        return tuple(out)


def _skip(header: str, pos: int, chars: str) -> int:
    while pos < len(header) and header[pos] in chars:
        pos += 1
    return pos


def _quoted(header: str, pos: int) -> tuple[str, int]:
    # ``pos`` is just past the opening quote; backslash escapes the next character.
    out = []
    while pos < len(header):
        char = header[pos]
        if char == "\\" and pos + 1 < len(header):
            out.append(header[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise AuthError("malformed WWW-Authenticate header: unterminated quoted string")


def parse_challenges(header: str) -> tuple[Challenge, ...]:
    """Every challenge in a ``WWW-Authenticate`` value (RFC 7235; commas may sit in quotes)."""
    challenges: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while True:
        pos = _skip(header, pos, " \t,")
        if pos >= len(header):
            break
        match = _TOKEN.match(header, pos)
        if match is None:
            raise AuthError(f"malformed WWW-Authenticate header {header[:120]!r}")
        word, pos = match.group(), match.end()
        after = _skip(header, pos, " \t")
        if after < len(header) and header[after] == "=" and challenges:
            pos = _skip(header, after + 1, " \t")
            if pos < len(header) and header[pos] == '"':
                value, pos = _quoted(header, pos + 1)
            else:
                # RFC 7235 wants a token here; registries are lenient, so take up to a comma.
                end = pos
                while end < len(header) and header[end] not in ", \t":
                    end += 1
                value, pos = header[pos:end], end
            challenges[-1][1][word.lower()] = value
            continue
        challenges.append((word.lower(), {}))
        pos = after
        token68 = _TOKEN68.match(header, pos)
        if token68:
            end = _skip(header, token68.end(), " \t")
            if end >= len(header) or header[end] == ",":
                pos = end  # opaque token68 credentials (``Negotiate abc==``); nothing we use
    return tuple(Challenge(scheme, MappingProxyType(params)) for scheme, params in challenges)


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """A token scope such as ``repository:fedora/coreos:pull,push``."""

    resource_type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse ``TYPE:NAME:ACTION[,ACTION…]`` (the name may itself contain colons)."""
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not kind or not name:
            raise AuthError(f"malformed token scope {text!r}")
        return cls(kind, name, tuple(sorted({a for a in actions.split(",") if a})))

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"


def repository_scope(repository: str, *actions: str) -> Scope:
    """The scope for ``actions`` (``pull``, ``push``) on one repository."""
    return Scope("repository", repository, tuple(sorted(set(actions))))


def merge_scopes(*groups: Iterable[Scope]) -> tuple[Scope, ...]:
    """The union of scopes: one entry per resource with every action any of them asked for."""
    merged: dict[tuple[str, str], set[str]] = {}
    for group in groups:
        for scope in group:
            merged.setdefault((scope.resource_type, scope.name), set()).update(scope.actions)
    return tuple(
        sorted(
            Scope(kind, name, tuple(sorted(actions))) for (kind, name), actions in merged.items()
        )
    )


def _covers(have: Iterable[Scope], want: Iterable[Scope]) -> bool:
    granted: dict[tuple[str, str], set[str]] = {}
    for scope in have:
        granted.setdefault((scope.resource_type, scope.name), set()).update(scope.actions)
    for scope in want:
        actions = granted.get((scope.resource_type, scope.name), set())
        if "*" not in actions and not set(scope.actions) <= actions:
            return False
    return True


def basic_header(credentials: Credentials) -> str:
    """``Authorization: Basic …`` for a user name and password."""
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _address_class(host: str) -> str:
    """``"loopback"``, ``"internal"`` (link-local, metadata, unspecified…) or ``"public"``."""
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "public"  # a name; private networks and their names are normal for registries
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if (
        address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    ):
        return "internal"
    return "public"


def check_realm(realm: str, registry_url: str) -> str:
    """Refuse a token realm the registry should not be able to send credentials to.

    The realm must be an http(s) URL without user info; an https registry cannot downgrade
    it to http; a loopback realm is accepted only from a loopback registry, and a link-local
    (cloud metadata), unspecified or multicast address only when it is the registry's own.
    """
    parts = urlsplit(realm)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise AuthError(f"registry sent an unusable token realm {realm[:200]!r}")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise AuthError("registry sent a token realm with user info or a fragment; refused")
    registry_scheme, registry_host, _ = origin(registry_url)
    if registry_scheme == "https" and scheme == "http":
        raise AuthError(
            f"registry sent an http token realm ({parts.hostname}) for an https registry; refused"
        )
    host = parts.hostname.lower()
    kind = _address_class(host)
    if host != registry_host and (
        kind == "internal" or (kind == "loopback" and _address_class(registry_host) != "loopback")
    ):
        raise AuthError(f"registry sent a token realm on an internal address ({host}); refused")
    return realm


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and the monotonic time after which it must not be used."""

    value: str = field(repr=False)
    expires_at: float
    refresh_token: str = field(default="", repr=False)


def parse_token_response(body: bytes, *, issued: float, what: str) -> Token:
    """Read a token server's JSON answer (``token`` or ``access_token``, ``expires_in``).

    The token is renewed a little before it expires (a tenth of its life, at most 10 s), so
    a request is not sent with a token about to lapse.
    """
    if len(body) > MAX_TOKEN_BYTES:
        raise AuthError(f"{what}: token response larger than {MAX_TOKEN_BYTES} bytes")
    try:
        document = parse_json_object(body, f"{what}: token response")
    except ManifestError as exc:
        raise AuthError(str(exc)) from None
    value = document.get("token") or document.get("access_token")
    if not isinstance(value, str) or not value:
        raise AuthError(f"{what}: token response has no token")
    lifetime = document.get("expires_in", _DEFAULT_LIFETIME)
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, int | float)
        or not 0 < lifetime < float("inf")  # NaN fails both comparisons
    ):
        lifetime = _DEFAULT_LIFETIME
    # A lifetime of 10**400 seconds would overflow float(); no token is trusted for a day.
    lifetime = min(lifetime, _MAX_LIFETIME)
    refresh = document.get("refresh_token")
    margin = min(10.0, float(lifetime) / 10)
    return Token(
        value, issued + float(lifetime) - margin, refresh if isinstance(refresh, str) else ""
    )


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A request to a token server; ``form`` is the urlencoded POST body, if any."""

    method: str
    url: str
    headers: Mapping[str, str]
    form: Mapping[str, str] | None = None

    @property
    def body(self) -> bytes | None:
        """The encoded form body."""
        return None if self.form is None else urlencode(self.form).encode()


def token_requests(
    challenge: Challenge,
    scopes: Sequence[Scope],
    credentials: Credentials | None,
    *,
    refresh_token: str = "",
) -> list[TokenRequest]:
    """The token requests to try, in order.

    With a refresh (identity) token: the OAuth2 POST, then a GET with it as the basic
    password for token servers that have no POST endpoint. With a user name: a GET with basic
    authentication. Otherwise an anonymous GET.
    """
    query: list[tuple[str, str]] = []
    if challenge.service:
        query.append(("service", challenge.service))
    query.extend(("scope", str(scope)) for scope in scopes)
    refresh = refresh_token or (credentials.identity_token if credentials else "")
    separator = "&" if urlsplit(challenge.realm).query else "?"
    requests: list[TokenRequest] = []
    if refresh:
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": _CLIENT_ID}
        if challenge.service:
            form["service"] = challenge.service
        if scopes:
            form["scope"] = " ".join(str(scope) for scope in scopes)
        requests.append(
            TokenRequest(
                "POST",
                challenge.realm,
                {"Content-Type": "application/x-www-form-urlencoded"},
                form,
            )
        )
        user = credentials.username if credentials and credentials.username else "<token>"
        fallback = Credentials(user, refresh)
        url = challenge.realm + (separator + urlencode(query) if query else "")
        requests.append(TokenRequest("GET", url, {"Authorization": basic_header(fallback)}))
        return requests
    headers: dict[str, str] = {}
    if credentials is not None and credentials.username:
        query.append(("account", credentials.username))
        headers["Authorization"] = basic_header(credentials)
    url = challenge.realm + (separator + urlencode(query) if query else "")
    return [TokenRequest("GET", url, headers)]


#: Makes one token request: ``fetch(request) -> (status, reason, body)``, the body bounded.
Fetch = Callable[[TokenRequest], tuple[int, str, bytes]]


class Authenticator:
    """Authorization headers for one registry, from its challenges and the user's credentials.

    Thread-safe: parallel transfers share tokens, and only one token request runs at a time,
    so a burst of requests that all need a new token causes one fetch, not one each.
    """

    def __init__(
        self,
        registry_url: str,
        credentials: Credentials | None,
        fetch: Fetch,
        *,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry_url = registry_url
        self._credentials = (
            credentials if credentials is not None and not credentials.empty else None
        )
        self._fetch = fetch
        self._name = name
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, tuple[Scope, ...]], Token] = {}
        self._refresh_token = ""
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self.token_fetches = 0

    @property
    def scheme(self) -> str:
        """``""`` (none needed), ``"basic"`` or ``"bearer"``: what the registry asked for."""
        return self._challenge.scheme if self._challenge else ""

    def set_challenge(self, header: str | None) -> None:
        """Record the challenge of an unauthenticated ``GET /v2/`` (None: no auth needed)."""
        self._challenge = self._pick(parse_challenges(header)) if header else None

    def _pick(self, challenges: Sequence[Challenge]) -> Challenge:
        for wanted in ("bearer", "basic"):
            for challenge in challenges:
                if challenge.scheme == wanted:
                    if wanted == "bearer":
                        check_realm(challenge.realm, self._registry_url)
                    return challenge
        schemes = ", ".join(c.scheme for c in challenges) or "none"
        raise AuthError(
            f"{self._name}: the registry asks for unsupported authentication ({schemes})"
        )

    def authorization(self, scopes: Sequence[Scope]) -> str | None:
        """The ``Authorization`` value for a request needing ``scopes`` (None: send none)."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self._basic()
        return "Bearer " + self._token(challenge, merge_scopes(scopes)).value

    def _basic(self) -> str:
        creds = self._credentials
        if creds is None or not creds.username:
            error = AuthError(f"{self._name}: authentication required and no credentials given")
            error.remedy = "credentials"
            raise error
        return basic_header(creds)

    def challenged(
        self, header: str | None, scopes: Sequence[Scope], *, rejected: str | None
    ) -> str:
        """A request sent with ``rejected`` got ``401`` and ``header``: the value to retry with."""
        challenge = self._pick(parse_challenges(header or ""))
        self._challenge = challenge
        if challenge.scheme == "basic":
            if rejected is not None and rejected.startswith("Basic "):
                user = self._credentials.username if self._credentials else ""
                raise AuthError(f"{self._name}: the registry refused the credentials for {user!r}")
            return self._basic()
        wanted = merge_scopes(scopes, challenge.scopes)
        if rejected is not None and rejected.startswith("Bearer "):
            value = rejected[len("Bearer ") :]
            with self._lock:
                for key in [k for k, t in self._tokens.items() if t.value == value]:
                    del self._tokens[key]
        return "Bearer " + self._token(challenge, wanted).value

    def _cached(self, realm: str, service: str, scopes: tuple[Scope, ...]) -> Token | None:
        now = self._clock()
        with self._lock:
            for key, token in list(self._tokens.items()):
                if token.expires_at <= now:
                    del self._tokens[key]
                elif key[0] == realm and key[1] == service and _covers(key[2], scopes):
                    return token
        return None

    def _token(self, challenge: Challenge, scopes: tuple[Scope, ...]) -> Token:
        realm, service = challenge.realm, challenge.service
        token = self._cached(realm, service, scopes)
        if token is not None:
            return token
        with self._fetch_lock:
            token = self._cached(realm, service, scopes)
            if token is not None:
                return token
            token = self._request_token(challenge, scopes)
            with self._lock:
                self._tokens[(realm, service, scopes)] = token
                if token.refresh_token:
                    self._refresh_token = token.refresh_token
            return token

    def _request_token(self, challenge: Challenge, scopes: tuple[Scope, ...]) -> Token:
        host = urlsplit(challenge.realm).netloc
        what = f"{self._name}: token server {host}"
        attempts = token_requests(
            challenge, scopes, self._credentials, refresh_token=self._refresh_token
        )
        for index, request in enumerate(attempts):
            issued = self._clock()
            self.token_fetches += 1
            status, reason, body = self._fetch(request)
            if status == 200:
                return parse_token_response(body, issued=issued, what=what)
            last = index == len(attempts) - 1
            if request.method == "POST" and status in (404, 405) and not last:
                continue  # no OAuth2 endpoint: fall back to GET, as Docker does
            _, line = describe_error(status, reason, body)
            if status in (401, 403):
                creds = self._credentials
                if creds is None:
                    error = AuthError(f"{what} requires authentication ({line})")
                    error.remedy = "credentials"
                    raise error
                who = f"user {creds.username!r}" if creds.username else "the identity token"
                raise AuthError(f"{what} refused the credentials for {who} ({line})")
            raise AuthError(f"{what} failed: {line}")
        raise AuthError(f"{what}: no way to request a token")  # pragma: no cover - never empty
