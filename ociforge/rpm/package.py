"""Open an RPM package: lead, signature and main header, header digests and signatures checked."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Final

from ..compression import Codec
from ..errors import DigestMismatch, RpmError, SignatureError, UnsupportedError
from .files import RpmFile, file_list
from .header import LEAD_SIZE, Header, Lead, parse_lead, read_header
from .signature import PublicKey, parse_signature, verify_signature
from .tags import SigTag, Tag

__all__ = ["RpmPackage", "read_package"]

_COMPRESSORS: Final[dict[str, Codec]] = {
    "gzip": "gzip",
    "zstd": "zstd",
    "xz": "xz",
    "lzma": "lzma",
    "bzip2": "bzip2",
}
#: Header-only digests rpm checks (``lib/rpmvs.cc``): signature tag → hashlib name.
_HEADER_DIGESTS: Final = (
    (SigTag.SHA256, "sha256"),
    (SigTag.SHA1, "sha1"),
    (SigTag.SHA3_256, "sha3_256"),
)


@dataclass(frozen=True, slots=True)
class RpmPackage:
    """A package whose headers were read and checked; the payload is not read yet.

    ``signer`` names the key whose signature verified, or is empty; ``notes`` say what was
    not checked (no signature, unknown key) for the caller to report.
    """

    what: str
    lead: Lead
    signature: Header
    header: Header
    payload_offset: int
    files: tuple[RpmFile, ...]
    signer: str = ""
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """NAME."""
        return self.header.string(Tag.NAME) or ""

    @property
    def version(self) -> str:
        """VERSION."""
        return self.header.string(Tag.VERSION) or ""

    @property
    def release(self) -> str:
        """RELEASE."""
        return self.header.string(Tag.RELEASE) or ""

    @property
    def epoch(self) -> int | None:
        """EPOCH, if the package has one."""
        return self.header.integer(Tag.EPOCH)

    @property
    def arch(self) -> str:
        """ARCH."""
        return self.header.string(Tag.ARCH) or ""

    @property
    def nevra(self) -> str:
        """``name-[epoch:]version-release.arch``, as ``rpm -q`` prints it."""
        epoch = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"

    @property
    def compressor(self) -> Codec:
        """The payload codec (gzip when the header does not say, as rpm assumes)."""
        name = self.header.string(Tag.PAYLOADCOMPRESSOR, "gzip") or "gzip"
        try:
            return _COMPRESSORS[name]
        except KeyError:
            raise UnsupportedError(f"{self.what}: payload compressor {name!r}") from None


def _check_digests(signature: Header, header: Header, what: str) -> None:
    immutable = header.immutable
    checked = 0
    for tag, algorithm in _HEADER_DIGESTS:
        expected = signature.string(tag)
        if expected is None:
            continue
        actual = hashlib.new(algorithm, immutable).hexdigest()
        if actual != expected.lower():
            raise DigestMismatch(
                f"{what}: header {algorithm} digest mismatch (header has {actual}, signature"
                f" header says {expected}); the package is corrupt or was altered"
            )
        checked += 1
    if not checked:
        raise RpmError(f"{what}: no header digest (SHA256/SHA1) to check the header against")


def _header_signatures(signature: Header, what: str) -> list[bytes]:
    packets = [
        blob for tag in (SigTag.RSA, SigTag.DSA) if (blob := signature.binary(tag)) is not None
    ]
    for text in signature.strings(SigTag.OPENPGP):
        try:
            packets.append(base64.b64decode(text, validate=True))
        except ValueError:
            raise SignatureError(f"{what}: OPENPGP signature is not base64") from None
    return packets


def _check_signatures(
    signature: Header, header: Header, what: str, keys: Sequence[PublicKey], required: bool
) -> tuple[str, tuple[str, ...]]:
    packets = _header_signatures(signature, what)
    if not packets:
        if required:
            raise SignatureError(f"{what}: package is not signed (--require-signatures)")
        return "", ("not signed",)
    unknown = []
    for packet in packets:
        parsed = parse_signature(packet, what=f"{what}: header signature")
        key = verify_signature(parsed, header.immutable, keys, what=f"{what}: header signature")
        if key is not None:
            return key.describe(), ()
        unknown.append(parsed.key_id.hex().upper())
    message = f"signed by unknown key {', '.join(unknown)}"
    if required:
        raise SignatureError(f"{what}: {message} (give its public key with --rpm-key)")
    return "", (message + "; signature not checked",)


def read_package(
    stream: IO[bytes],
    *,
    what: str = "rpm",
    keys: Sequence[PublicKey] = (),
    require_signatures: bool = False,
) -> RpmPackage:
    """Read the headers of the package at the start of ``stream`` and check them.

    The header digests are always checked; a signature by one of ``keys`` must verify; with
    ``require_signatures`` an unsigned package or one signed by another key is refused.
    On return ``stream`` is positioned at the payload.
    """
    lead_bytes = stream.read(LEAD_SIZE)
    lead = parse_lead(lead_bytes, what=what)
    sig = read_header(stream, what=what, signature=True)
    header = read_header(stream, what=what)
    offset = LEAD_SIZE + len(sig.raw) + (-len(sig.raw) % 8) + len(header.raw)
    _check_digests(sig, header, what)
    for tag in (Tag.NAME, Tag.VERSION, Tag.RELEASE):
        if not header.string(tag):
            raise RpmError(f"{what}: header has no {tag.name}")
    if header.string(Tag.PAYLOADFORMAT, "cpio") != "cpio":
        raise UnsupportedError(f"{what}: payload format {header.string(Tag.PAYLOADFORMAT)!r}")
    signer, notes = _check_signatures(sig, header, what, keys, require_signatures)
    files = file_list(header)
    package = RpmPackage(what, lead, sig, header, offset, files, signer, notes)
    package.compressor  # noqa: B018 - refuse an unknown codec before any payload work
    return package
