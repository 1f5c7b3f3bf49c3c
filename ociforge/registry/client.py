"""A client for one repository on a registry: the distribution API calls, authenticated.

Each method is one API operation (get a manifest, check or stream a blob, start, feed and
finish an upload, put a manifest); it builds the request with :mod:`.protocol`, authorises
it with :mod:`.auth`, sends it with :mod:`.transport` and turns error answers into one-line
exceptions. Policy (what to upload, in which order, how to resume) lives in the callers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import requests

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import (
    AuthError,
    DigestMismatch,
    NotFound,
    RegistryError,
    RegistryResponseError,
    TransportError,
)
from ..spec import MAX_MANIFEST_BYTES
from . import protocol as proto
from .auth import (
    MAX_TOKEN_BYTES,
    Authenticator,
    Scope,
    TokenRequest,
    parse_challenges,
    repository_scope,
)
from .options import CredentialResolver, RegistryOptions
from .reference import RegistryReference
from .transport import Body, Response, Transport, read_limited

__all__ = ["RegistryClient", "UploadSession"]

_SMALL: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class UploadSession:
    """An open upload: where to send the next bytes, how many the registry holds, chunk floor."""

    location: str
    offset: int = 0
    chunk_min: int = 0


def _with_hint(failure: TransportError, *, tls_verify: bool) -> TransportError:
    """The error, marked with the remedy for the two TLS failures of private registries."""
    text = str(failure)
    if tls_verify and "WRONG_VERSION_NUMBER" in text:
        failure.remedy = "plain-http"
    elif "certificate verification failed" in text:
        failure.remedy = "untrusted-certificate"
    return failure


class _CurrentAuthorization:
    """The Authorization value for one request, asked for at each attempt; remembers the last.

    After a ``401`` the authenticator drops what was rejected and fetches anew, so the next
    attempt carries a renewed token (or fails with one clear error).
    """

    def __init__(self, auth: Authenticator, scopes: Sequence[Scope]) -> None:
        self._auth = auth
        self._scopes = scopes
        self.used: str | None = None

    def __call__(self) -> str | None:
        self.used = self._auth.authorization(self._scopes)
        return self.used

    def challenged(self, header: str | None) -> None:
        self._auth.challenged(header, self._scopes, rejected=self.used)


class RegistryClient:
    """The distribution API for one repository, with the credentials ``credentials`` gives.

    ``credentials(registry, repository)`` is asked once, when the registry first answers
    (default: :meth:`RegistryOptions.credential_resolver`). ``label`` starts every error
    message (``push to HOST/REPO`` …). The client is thread-safe; uploads and downloads of
    different blobs may run in parallel.
    """

    def __init__(
        self,
        reference: RegistryReference,
        *,
        options: RegistryOptions,
        credentials: CredentialResolver | None = None,
        label: str = "",
    ) -> None:
        self.reference = reference
        self._credentials = credentials or options.credential_resolver()
        self.repository = reference.repository
        self.options = options
        self.label = label or reference.name
        self.transport = Transport(
            tls=options.tls,
            retry=options.retry,
            pool_size=max(4, options.jobs + 2),
            trace=options.trace,
            notice=options.notice,
        )
        self._ping_lock = threading.Lock()
        self._base = ""
        self._auth: Authenticator | None = None

    @property
    def registry(self) -> str:
        """The registry's name (``docker.io``, ``HOST:PORT``)."""
        return self.reference.registry

    def close(self) -> None:
        """Release pooled connections."""
        self.transport.close()

    # -- connection and authentication -------------------------------------------------

    def _schemes(self) -> tuple[str, ...]:
        # As skopeo: https only, unless TLS checks are off, when plain http is tried next.
        return ("https",) if self.options.tls_verify else ("https", "http")

    def _ping(self) -> None:
        with self._ping_lock:
            if self._auth is not None:
                return
            failure: TransportError | None = None
            for scheme in self._schemes():
                base = f"{scheme}://{self.reference.host}/v2/"
                try:
                    response = self.transport.request(
                        proto.ping_request(base), limit=_SMALL, what=self.label
                    )
                except TransportError as exc:
                    failure = exc
                    continue
                if response.status not in (200, 401):
                    _, line = proto.describe_error(response.status, response.reason, response.body)
                    host = self.reference.host
                    raise RegistryResponseError(
                        f"{self.label}: {host} does not answer as a registry ({line})",
                        status=response.status,
                    )
                creds = self._credentials(self.registry, self.repository)
                auth = Authenticator(base, creds, self._fetch_token, name=self.label)
                if response.status == 401:
                    auth.set_challenge(response.headers.get("WWW-Authenticate"))
                self._base = base
                self._auth = auth
                return
            assert failure is not None
            raise _with_hint(failure, tls_verify=self.options.tls_verify) from failure

    def _fetch_token(self, request: TokenRequest) -> tuple[int, str, bytes]:
        # Token servers are never followed through redirects: a realm was checked, its
        # redirect target would not be.
        response = self.transport.request(
            proto.Request(request.method, request.url, request.headers),
            body=request.body,
            limit=MAX_TOKEN_BYTES,
            what=f"{self.label}: token request",
        )
        return response.status, response.reason, response.body

    def _check_challenger(self, url: str, *, what: str) -> None:
        """Refuse to answer a challenge from anywhere but the registry itself.

        A redirect target (blob storage, or a host a hostile registry names) that asks for
        authentication would otherwise get the registry's credentials, or a token realm of
        its choosing would.
        """
        if url and proto.origin(url) != proto.origin(self._base):
            scheme, host, port = proto.origin(url)
            raise AuthError(
                f"{what}: {scheme}://{host}:{port}, where the registry redirected, asks for"
                " authentication; the registry's credentials are not sent there"
            )

    @property
    def base(self) -> str:
        """``SCHEME://HOST/v2/`` once the registry answered."""
        self._ping()
        return self._base

    @property
    def auth(self) -> Authenticator:
        """The authenticator, once the registry answered."""
        self._ping()
        assert self._auth is not None
        return self._auth

    def pull_scopes(self) -> tuple[Scope, ...]:
        """What reading this repository needs."""
        return (repository_scope(self.repository, "pull"),)

    def push_scopes(self, *mount_from: str) -> tuple[Scope, ...]:
        """What writing this repository needs (and reading the repositories mounted from)."""
        return (
            repository_scope(self.repository, "pull", "push"),
            *(repository_scope(repo, "pull") for repo in mount_from),
        )

    def login(self, scopes: Sequence[Scope]) -> None:
        """Check the credentials before any transfer, so a wrong password fails once, early."""
        if not self.auth.scheme:
            return
        self.call(proto.ping_request(self.base), scopes, ok=(200,), what="login")

    def _error(self, response: Response, what: str) -> RegistryError:
        code, line = proto.describe_error(response.status, response.reason, response.body)
        if response.status == 401:
            # A fresh token refused with insufficient_scope: the credentials lack the right,
            # which the registry's generic "authentication required" does not say.
            challenges = parse_challenges(response.headers.get("WWW-Authenticate", ""))
            for challenge in challenges:
                if challenge.params.get("error") == "insufficient_scope":
                    wanted = _normalise_scopes(challenge.params.get("scope", ""))
                    line = f"denied: access to {wanted} was not granted (insufficient_scope)"
            error = AuthError(f"{self.label}: {what}: {line}")
            error.remedy = "credentials"
            return error
        message = f"{self.label}: {what}: {line}"
        retry_after = proto.parse_retry_after(response.headers.get("Retry-After"))
        return RegistryResponseError(
            message, status=response.status, code=code, retry_after=retry_after
        )

    def call(
        self,
        request: proto.Request,
        scopes: Sequence[Scope],
        *,
        ok: tuple[int, ...],
        body: bytes | None = None,
        limit: int = _SMALL,
        what: str = "",
    ) -> Response:
        """Send a repeatable request with authorization; one re-authentication on ``401``.

        Statuses outside ``ok`` (and 404 when the caller lists it) raise one-line errors.
        """
        header = _CurrentAuthorization(self.auth, scopes)
        response = self.transport.request(
            request, authorization=header, body=body, limit=limit, what=f"{self.label}: {what}"
        )
        if response.status == 401:
            header.challenged(response.headers.get("WWW-Authenticate"))
            response = self.transport.request(
                request, authorization=header, body=body, limit=limit, what=f"{self.label}: {what}"
            )
        if response.status not in ok:
            raise self._error(response, what)
        return response

    def send_body(
        self, request: proto.Request, scopes: Sequence[Scope], body: Body | bytes, *, what: str
    ) -> Response:
        """Send a request whose body cannot be replayed; never retried here.

        A ``401`` renews the authorization and raises :class:`TransportError` (temporary), so
        the caller resumes the upload the way it resumes after a dropped connection.
        """
        header = _CurrentAuthorization(self.auth, scopes)
        response = self.transport.request(
            request,
            authorization=header,
            body=body,
            repeatable=False,
            limit=_SMALL,
            what=f"{self.label}: {what}",
        )
        if response.status == 401:
            header.challenged(response.headers.get("WWW-Authenticate"))
            raise TransportError(f"{self.label}: {what}: authorization expired during the upload")
        return response

    # -- manifests ---------------------------------------------------------------------

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        """The exact bytes and media type of a manifest, verified against its digest.

        By digest, the bytes must hash to it; by tag, to the ``Docker-Content-Digest`` the
        registry sent, when it sent one.
        """
        what = f"manifest {reference}"
        request = proto.manifest_request("GET", self.base, self.repository, reference)
        try:
            response = self.call(
                request, self.pull_scopes(), ok=(200,), limit=MAX_MANIFEST_BYTES, what=what
            )
        except RegistryResponseError as exc:
            if exc.status == 404:
                raise NotFound(str(exc)) from None
            raise
        raw = response.body
        expected: Digest | None
        expected = Digest.parse(reference) if ":" in reference else None
        header = proto.content_digest(response.headers, what=f"{self.label}: {what}")
        for wanted in (expected, header):
            if wanted is None:
                continue
            actual = Digest.of_bytes(raw, wanted.algorithm)
            if actual != wanted:
                raise DigestMismatch(
                    f"{self.label}: {what}: the registry sent bytes with digest {actual},"
                    f" expected {wanted}"
                )
        served = proto.media_type_of(response.headers)
        # Only a manifest media type says anything; some registries answer text/plain.
        return raw, served if mt.is_manifest(served) else ""

    def manifest_exists(self, digest: Digest) -> bool:
        """``HEAD`` a manifest by digest: True if this repository holds it."""
        request = proto.manifest_request("HEAD", self.base, self.repository, str(digest))
        response = self.call(request, self.pull_scopes(), ok=(200, 404), what=f"manifest {digest}")
        return response.status == 200

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> Digest:
        """Store a manifest's exact bytes under a digest or tag; return the registry's digest."""
        what = f"manifest {reference}"
        request = proto.manifest_put(self.base, self.repository, reference, media_type)
        response = self.call(request, self.push_scopes(), ok=(200, 201, 202), body=raw, what=what)
        digest = Digest.of_bytes(raw)
        stored = proto.content_digest(response.headers, what=f"{self.label}: {what}")
        if stored is not None and stored != Digest.of_bytes(raw, stored.algorithm):
            raise DigestMismatch(
                f"{self.label}: {what}: the registry stored digest {stored}, not {digest}"
            )
        return digest

    def list_tags(self) -> list[str]:
        """Every tag of the repository, following the registry's pages, in its order."""
        request: proto.Request | None = proto.tags_request(self.base, self.repository)
        tags: list[str] = []
        while request is not None:
            try:
                response = self.call(request, self.pull_scopes(), ok=(200,), what="tag list")
            except RegistryResponseError as exc:
                if exc.status == 404:
                    raise NotFound(str(exc)) from None
                raise
            tags.extend(proto.parse_tags(response.body, what=f"{self.label}: tag list"))
            url = proto.next_page(
                response.url, response.headers.get("Link"), what=f"{self.label}: tag list"
            )
            request = proto.Request("GET", url) if url else None
        return tags

    def delete_manifest(self, digest: Digest) -> None:
        """``DELETE`` a manifest by digest; :class:`NotFound` if the repository lacks it."""
        what = f"manifest {digest}"
        request = proto.manifest_delete(self.base, self.repository, digest)
        scopes = (repository_scope(self.repository, "delete"),)
        try:
            self.call(request, scopes, ok=(200, 202), what=f"delete of {what}")
        except RegistryResponseError as exc:
            if exc.status == 404:
                raise NotFound(str(exc)) from None
            raise

    # -- blobs -------------------------------------------------------------------------

    def blob_exists(self, digest: Digest, *, scopes: Sequence[Scope] = ()) -> bool:
        """``HEAD`` the blob: True if the repository already has it."""
        request = proto.blob_request("HEAD", self.base, self.repository, digest)
        response = self.call(
            request, scopes or self.pull_scopes(), ok=(200, 404), what=f"blob {digest}"
        )
        return response.status == 200

    def open_blob(self, digest: Digest, *, offset: int = 0) -> requests.Response:
        """The open ``GET`` response for a blob (from ``offset``); the caller reads and closes."""
        what = f"{self.label}: blob {digest}"
        scopes = self.pull_scopes()
        request = proto.blob_request("GET", self.base, self.repository, digest, offset=offset)
        header = _CurrentAuthorization(self.auth, scopes)
        response = self.transport.open(request, authorization=header, what=what)
        if response.status_code == 401:
            response.close()
            self._check_challenger(response.url, what=what)
            header.challenged(response.headers.get("WWW-Authenticate"))
            response = self.transport.open(request, authorization=header, what=what)
        if response.status_code in (200, 206):
            return response
        try:
            body = read_limited(response, proto.MAX_ERROR_BYTES, what=what)
        finally:
            response.close()
        error = self._error(
            Response(response.status_code, response.reason or "", response.headers, body, ""),
            f"blob {digest}",
        )
        if response.status_code == 404:
            raise NotFound(str(error))
        raise error

    # -- uploads -----------------------------------------------------------------------

    def start_upload(
        self, *, mount: Digest | None = None, source: str = ""
    ) -> UploadSession | None:
        """Open an upload session, or mount ``mount`` from ``source``: None when mounted."""
        what = f"mount of {mount} from {source}" if mount else "upload"
        scopes = self.push_scopes(source) if mount else self.push_scopes()
        request = proto.upload_start(self.base, self.repository, mount=mount, source=source)
        response = self.call(request, scopes, ok=(201, 202), what=what)
        if response.status == 201:
            return None
        location = proto.resolve_location(
            response.url, response.headers.get("Location"), what=f"{self.label}: {what}"
        )
        return UploadSession(location, 0, proto.chunk_min_length(response.headers))

    def upload_status(self, session: UploadSession) -> UploadSession | None:
        """Where the registry's copy of an upload ends; None if the session is gone."""
        request = proto.upload_status(session.location)
        try:
            response = self.call(request, self.push_scopes(), ok=(200, 204), what="upload status")
        except RegistryResponseError as exc:
            if 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
                return None  # unknown or invalidated session: start a new one
            raise
        location = proto.resolve_location(
            response.url,
            response.headers.get("Location") or session.location,
            what=f"{self.label}: upload status",
        )
        offset = proto.parse_upload_offset(response.headers.get("Range"))
        return UploadSession(location, offset, session.chunk_min)

    def upload_chunk(self, session: UploadSession, body: Body) -> UploadSession:
        """``PATCH`` one chunk; return the session after it (new location and offset)."""
        what = "upload chunk"
        request = proto.upload_chunk(session.location, session.offset, len(body))
        response = self.send_body(request, self.push_scopes(), body, what=what)
        if response.status != 202:
            raise self._error(response, what)
        location = proto.resolve_location(
            response.url, response.headers.get("Location"), what=f"{self.label}: {what}"
        )
        offset = session.offset + len(body)
        if "Range" in response.headers:
            reported = proto.parse_upload_offset(response.headers.get("Range"))
            if reported != offset:
                raise TransportError(
                    f"{self.label}: {what}: the registry holds {reported} bytes, not {offset}"
                )
        return UploadSession(location, offset, session.chunk_min)

    def finish_upload(self, session: UploadSession, digest: Digest, body: Body | bytes) -> None:
        """``PUT ?digest=`` with the last bytes; the registry checks the digest itself."""
        what = f"blob {digest}"
        request = proto.upload_finish(session.location, digest, len(body))
        response = self.send_body(request, self.push_scopes(), body, what=what)
        if response.status not in (201, 204):
            raise self._error(response, what)
        stored = proto.content_digest(response.headers, what=f"{self.label}: {what}")
        if stored is not None and stored != digest:
            raise DigestMismatch(f"{self.label}: {what}: the registry stored it as {stored}")


def _normalise_scopes(text: str) -> str:
    """Scopes from a challenge with their actions sorted (registries list them in any order)."""
    if not text:
        return "this operation"
    try:
        return " ".join(str(Scope.parse(part)) for part in text.split())
    except AuthError:
        return text
