"""How to reach a registry: credentials, TLS, parallelism, upload shape, retries, progress."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .credentials import Credentials, find_credentials, parse_creds

if TYPE_CHECKING:
    from ..spec import Descriptor

__all__ = [
    "CredentialResolver",
    "RegistryOptions",
    "RetryPolicy",
    "TlsOptions",
    "TransferProgress",
]

#: Called as ``progress(descriptor, done)`` with the bytes of that blob transferred so far.
TransferProgress = Callable[["Descriptor", int], None]
#: ``resolver(registry, repository)``: the credentials to use there, or None (anonymous).
CredentialResolver = Callable[[str, str], Credentials | None]


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """``--tls-verify`` and ``--cert-dir``: how to check the server and prove who we are.

    ``ca_file`` *replaces* the system roots with the certificates in that file, as curl's
    ``--cacert`` and dnf's ``sslcacert`` do; ``client_cert`` (with ``client_key``, or a
    PEM holding both) is presented to the server, as dnf's ``sslclientcert``/``sslclientkey``.
    """

    verify: bool = True
    cert_dir: str | None = None
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to repeat a failed request, and how long to wait at all.

    ``read_timeout`` bounds each wait for bytes *and* the whole reading of a small response
    (manifests, tokens, errors), so a server dripping one byte a second cannot hold a run;
    ``max_retry_after`` caps what a ``Retry-After`` may ask; ``deadline`` (seconds, 0: none)
    bounds all the requests of one transport together, retries and waits included.
    """

    attempts: int = 6
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    connect_timeout: float = 30.0
    read_timeout: float = 300.0
    deadline: float = 0.0

    def delay(self, attempt: int, retry_after: float = 0.0) -> float:
        """Seconds to wait before attempt ``attempt + 1``: backoff with jitter, or Retry-After."""
        backoff = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        jittered = backoff * (0.5 + random.random() / 2)  # jitter, not a secret
        return float(max(jittered, min(retry_after, self.max_retry_after)))


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryOptions:
    """Options for talking to a registry, mirroring skopeo's flags where it has them.

    ``creds`` is ``--creds USER:PASSWORD`` (or ready :class:`Credentials`); without it the
    auth files and credential helpers are searched (``authfile`` first), unless
    ``credentials`` resolves them instead. ``chunk_size`` 0
    uploads each blob in one streaming ``PUT``; otherwise in ``PATCH`` chunks of that size
    (raised to the registry's ``OCI-Chunk-Min-Length``). ``mount_from`` names repositories of
    the same registry whose blobs may be mounted instead of uploaded.
    """

    creds: str | Credentials | None = field(default=None, repr=False)
    authfile: str | None = None
    tls_verify: bool = True
    cert_dir: str | None = None
    jobs: int = 4
    chunk_size: int = 0
    mount_from: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: TransferProgress | None = field(default=None, compare=False)
    #: One line per HTTP exchange (method, URL without credentials, status, bytes).
    trace: Callable[[str], None] | None = field(default=None, compare=False)
    #: One line per retry or capped wait, for the user to see why a run pauses.
    notice: Callable[[str], None] | None = field(default=None, compare=False)
    credentials: CredentialResolver | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.creds, str):
            # Checked now, so a malformed --creds fails before any connection is made.
            object.__setattr__(self, "creds", parse_creds(self.creds))

    def credential_resolver(self) -> CredentialResolver:
        """How a client finds its credentials: ``credentials``, else ``creds`` and the files."""
        if self.credentials is not None:
            return self.credentials
        creds, authfile = self.creds, self.authfile

        def resolve(registry: str, repository: str) -> Credentials | None:
            return find_credentials(registry, repository, creds=creds, authfile=authfile)

        return resolve

    @property
    def tls(self) -> TlsOptions:
        """The TLS part."""
        return TlsOptions(verify=self.tls_verify, cert_dir=self.cert_dir)
