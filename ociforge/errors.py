"""The single exception tree every public ociforge call raises from.

::

    OciforgeError                                  root; the CLI prints "ociforge: error: …"
    ├── InvalidDigest(ValueError)                  a digest string that is not algorithm:hex
    ├── InvalidReference(ValueError)               an image reference that cannot be parsed
    ├── IntegrityError                             bytes that are not what their descriptor says
    │   ├── DigestMismatch
    │   └── SizeMismatch                           also: output over a limit (bombs)
    ├── FormatError(ValueError)                    malformed data in a known format
    │   ├── ManifestError                          manifest, index, config or index.json
    │   ├── ArchiveError                           ociarchive (tar of a layout) or layout directory
    │   ├── CompressionError                       a corrupt gzip/zstd stream
    │   ├── TarError                               a tar layer
    │   │   └── UnsafePath                         a name or link that would leave the target tree
    │   ├── RpmError                               an RPM package
    │   └── IgnitionError                          an Ignition config
    ├── UnsupportedError                           valid input this tool does not handle
    ├── NotFound(KeyError)                         a blob, manifest, tag or file that is absent
    ├── PathConflict(ValueError)                   two inputs claim one image path
    ├── PolicyError                                refused by a rule (ostree, lint, kernel…)
    │   ├── DependencyError                        a package set whose dependencies cannot be met
    │   └── FileConflictError                      two packages want one path with other content
    ├── SignatureError                             a bad signature, or an unknown key
    ├── RepoError                                  an rpm-md repository is misconfigured or unusable
    └── RegistryError                              talking to a registry failed
        ├── TransportError                         connection-level failure; temporary
        ├── AuthError                              credentials refused or unobtainable
        └── RegistryResponseError                  the registry answered with an error status

Messages name the input and the problem in one line, because the CLI shows them as they are.
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "AuthError",
    "CompressionError",
    "DependencyError",
    "DigestMismatch",
    "FileConflictError",
    "FormatError",
    "IgnitionError",
    "IntegrityError",
    "InvalidDigest",
    "InvalidReference",
    "ManifestError",
    "NotFound",
    "OciforgeError",
    "PathConflict",
    "PolicyError",
    "RegistryError",
    "RegistryResponseError",
    "RepoError",
    "RpmError",
    "SignatureError",
    "SizeMismatch",
    "TarError",
    "TransportError",
    "UnsafePath",
    "UnsupportedError",
]


class OciforgeError(Exception):
    """Root of every error ociforge raises on purpose."""

    def __str__(self) -> str:
        # KeyError subclasses would otherwise print repr() of the message.
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidDigest(OciforgeError, ValueError):
    """A digest string is not a supported ``algorithm:hex`` pair."""


class InvalidReference(OciforgeError, ValueError):
    """An image reference (transport, path, repository, tag) cannot be parsed."""


class IntegrityError(OciforgeError):
    """Content does not match what its descriptor promised."""


class DigestMismatch(IntegrityError):
    """The bytes hash to another digest than expected."""


class SizeMismatch(IntegrityError):
    """The byte count differs from the expected size or exceeds a limit."""


class FormatError(OciforgeError, ValueError):
    """Malformed data in a format ociforge understands."""


class ManifestError(FormatError):
    """A manifest, index, image config or ``index.json`` is malformed."""


class ArchiveError(FormatError):
    """An ociarchive or OCI layout directory is malformed."""


class CompressionError(FormatError):
    """A compressed stream is corrupt or truncated."""


class TarError(FormatError):
    """A tar stream is malformed."""


class UnsafePath(TarError):
    """A path, link target or whiteout would reach outside the target tree."""


class RpmError(FormatError):
    """An RPM package is malformed."""


class IgnitionError(FormatError):
    """An Ignition config is malformed or asks for something that cannot be done offline."""


class UnsupportedError(OciforgeError):
    """Valid input that ociforge does not handle (a media type, a codec, a database format)."""


class NotFound(OciforgeError, KeyError):
    """A blob, manifest, tag or path is absent."""


class PathConflict(OciforgeError, ValueError):
    """Two inputs claim the same image path, or a path needs a parent that is not a directory."""


class PolicyError(OciforgeError):
    """An operation refused by a rule: ostree layout, lint, kernel replacement, scriptlets."""


class DependencyError(PolicyError):
    """Requested packages whose Requires, Conflicts or Obsoletes cannot be satisfied together."""


class FileConflictError(PolicyError):
    """Two packages of one transaction install the same path with different content or metadata."""


class SignatureError(OciforgeError):
    """A signature is invalid, or made by a key that was not supplied."""


class RepoError(OciforgeError):
    """An rpm-md repository is misconfigured, unreachable or serves unusable metadata."""


class RegistryError(OciforgeError):
    """Talking to a registry failed.

    ``remedy`` names what the user can do about it, for front ends to word as they like:
    ``"plain-http"`` (the registry speaks HTTP), ``"untrusted-certificate"`` or
    ``"credentials"`` (none were given, or they lack the right); ``""`` when nothing applies.
    """

    temporary: bool = False
    remedy: str = ""


class TransportError(RegistryError):
    """The connection failed (refused, reset, timed out); worth retrying."""

    temporary = True


class AuthError(RegistryError):
    """Credentials were refused or a token could not be obtained."""


class RegistryResponseError(RegistryError):
    """The registry answered with an error status.

    ``code`` is the first distribution error code (``MANIFEST_UNKNOWN``, ``DENIED``, …) when the
    body carried one.
    """

    def __init__(self, message: str, *, status: int, code: str = "", retry_after: float = 0.0):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def temporary(self) -> bool:  # type: ignore[override]
        """True for statuses a client should retry (429 and 5xx)."""
        return self.status == 429 or self.status >= 500
