"""OpenPGP public keys and signatures (RFC 4880) as RPM uses them, verified with ``cryptography``.

Only what RPM header signatures and detached signatures of repository metadata
(``repomd.xml.asc``) need: v4 public keys and subkeys (RSA, DSA, ECDSA on the NIST curves, EdDSA
on Ed25519), v3/v4 signature packets, armored or binary input.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa, utils

from ..errors import SignatureError

__all__ = [
    "PublicKey",
    "Signature",
    "load_keys",
    "parse_signature",
    "verify_detached",
    "verify_signature",
]

_PUBKEY: Final = 6
_PUBSUBKEY: Final = 14
_SIGNATURE: Final = 2
_USERID: Final = 13
#: Signature type 0x00: a signature of a binary document (what ``gpg --detach-sign`` makes).
_BINARY_DOCUMENT: Final = 0x00

_RSA: Final = (1, 3)
_DSA: Final = 17
_ECDSA: Final = 19
_EDDSA: Final = 22

_HASHES: Final[dict[int, type[hashes.HashAlgorithm]]] = {
    2: hashes.SHA1,
    8: hashes.SHA256,
    9: hashes.SHA384,
    10: hashes.SHA512,
    11: hashes.SHA224,
}
_HASHLIB: Final = {2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
_CURVES: Final[dict[bytes, ec.EllipticCurve]] = {
    bytes.fromhex("2a8648ce3d030107"): ec.SECP256R1(),
    bytes.fromhex("2b81040022"): ec.SECP384R1(),
    bytes.fromhex("2b81040023"): ec.SECP521R1(),
}
_ED25519_OID: Final = bytes.fromhex("2b06010401da470f01")

PublicKeyObject = (
    rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A (sub)key that can verify signatures; ``key_id`` is the fingerprint's last 8 bytes."""

    fingerprint: bytes
    algorithm: int
    key: PublicKeyObject = field(repr=False, compare=False)
    user_ids: tuple[str, ...] = ()

    @property
    def key_id(self) -> bytes:
        """The 8-byte key id."""
        return self.fingerprint[-8:]

    def describe(self) -> str:
        """Key id in hex, with the first user id when known."""
        who = f" ({self.user_ids[0]})" if self.user_ids else ""
        return self.key_id.hex().upper() + who


@dataclass(frozen=True, slots=True)
class Signature:
    """A parsed signature packet: what to hash after the data and the values to check."""

    version: int
    algorithm: int
    hash_algorithm: int
    trailer: bytes
    left16: bytes
    values: tuple[int, ...]
    issuer: bytes
    issuer_fingerprint: bytes
    #: The signature type octet (0x00 binary document, 0x01 canonical text, …).
    kind: int = _BINARY_DOCUMENT

    @property
    def key_id(self) -> bytes:
        """The issuer's key id (from the fingerprint subpacket when the id one is absent)."""
        return self.issuer or self.issuer_fingerprint[-8:]


class _Reader:
    """Bounded cursor over a packet body; every overrun is a SignatureError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SignatureError(f"{self.what}: truncated OpenPGP packet")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def mpi(self) -> int:
        bits = struct.unpack(">H", self.take(2))[0]
        return int.from_bytes(self.take((bits + 7) // 8), "big")

    def mpi_bytes(self) -> bytes:
        bits = struct.unpack(">H", self.take(2))[0]
        return self.take((bits + 7) // 8)


def _packets(data: bytes, what: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos < len(data):
        first = data[pos]
        if not first & 0x80:
            raise SignatureError(f"{what}: not OpenPGP data (bad packet header)")
        pos += 1
        if first & 0x40:
            tag = first & 0x3F
            if pos >= len(data):
                raise SignatureError(f"{what}: truncated OpenPGP packet header")
            o1 = data[pos]
            if o1 < 192:
                length, pos = o1, pos + 1
            elif o1 < 224:
                if pos + 1 >= len(data):
                    raise SignatureError(f"{what}: truncated OpenPGP packet header")
                length, pos = ((o1 - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif o1 == 255:
                if pos + 5 > len(data):
                    raise SignatureError(f"{what}: truncated OpenPGP packet header")
                length, pos = struct.unpack(">I", data[pos + 1 : pos + 5])[0], pos + 5
            else:
                raise SignatureError(f"{what}: partial-length OpenPGP packets are not supported")
        else:
            tag = (first >> 2) & 0x0F
            kind = first & 0x03
            if kind == 3:
                raise SignatureError(f"{what}: indeterminate-length OpenPGP packet")
            width = (1, 2, 4)[kind]
            if pos + width > len(data):
                raise SignatureError(f"{what}: truncated OpenPGP packet header")
            length, pos = int.from_bytes(data[pos : pos + width], "big"), pos + width
        if pos + length > len(data):
            raise SignatureError(f"{what}: truncated OpenPGP packet body")
        yield tag, data[pos : pos + length]
        pos += length


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


_ARMOR = re.compile(
    rb"-----BEGIN PGP (?P<kind>[A-Z ]+)-----\r?\n(?P<body>.*?)-----END PGP (?P=kind)-----",
    re.DOTALL,
)


def dearmor(data: bytes, *, what: str) -> bytes:
    """The binary packets of ASCII-armored input (every block), or ``data`` if not armored."""
    blocks = list(_ARMOR.finditer(data))
    if not blocks:
        return data
    out = bytearray()
    for block in blocks:
        lines = block.group("body").splitlines()
        # Armor headers ("Version: …") end at the first empty line, when there are any.
        if any(b":" in line for line in lines[:1]):
            lines = lines[lines.index(b"") + 1 :] if b"" in lines else lines
        crc_line = [line for line in lines if line.startswith(b"=")]
        body = b"".join(line.strip() for line in lines if line and not line.startswith(b"="))
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise SignatureError(f"{what}: corrupt ASCII armor") from None
        if crc_line:
            try:
                expected = int.from_bytes(base64.b64decode(crc_line[0][1:].strip()), "big")
            except ValueError:
                raise SignatureError(f"{what}: corrupt ASCII armor checksum") from None
            if expected != _crc24(raw):
                raise SignatureError(f"{what}: ASCII armor checksum mismatch")
        out += raw
    return bytes(out)


def _public_key(body: bytes, what: str) -> PublicKey | None:
    reader = _Reader(body, what)
    version = reader.byte()
    if version != 4:
        return None  # v3 keys are obsolete and v5/v6 are not used by RPM 4 signatures
    reader.take(4)
    algorithm = reader.byte()
    key: PublicKeyObject
    try:
        if algorithm in _RSA:
            n, e = reader.mpi(), reader.mpi()
            key = rsa.RSAPublicNumbers(e, n).public_key()
        elif algorithm == _DSA:
            p, q, g, y = reader.mpi(), reader.mpi(), reader.mpi(), reader.mpi()
            key = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        elif algorithm == _ECDSA:
            oid = reader.take(reader.byte())
            curve = _CURVES.get(oid)
            if curve is None:
                return None
            key = ec.EllipticCurvePublicKey.from_encoded_point(curve, reader.mpi_bytes())
        elif algorithm == _EDDSA:
            oid = reader.take(reader.byte())
            point = reader.mpi_bytes()
            if oid != _ED25519_OID or len(point) != 33 or point[0] != 0x40:
                return None
            key = ed25519.Ed25519PublicKey.from_public_bytes(point[1:])
        else:
            return None
    except ValueError as exc:
        raise SignatureError(f"{what}: invalid public key material ({exc})") from None
    prefix = b"\x99" + struct.pack(">H", len(body))
    return PublicKey(hashlib.sha1(prefix + body).digest(), algorithm, key)


def load_keys(data: bytes, *, what: str = "key file") -> list[PublicKey]:
    """Every usable public key and subkey in an armored or binary key file.

    An ASCII-armored file may hold several key blocks, as ``rpm --import`` accepts. Keys of an
    algorithm ociforge cannot verify are skipped (RSA, DSA, ECDSA and EdDSA are read); a file
    with no usable key raises :class:`SignatureError` naming ``what``.
    """
    keys: list[PublicKey] = []
    user_ids: list[str] = []
    primary_start = 0
    for tag, body in _packets(dearmor(data, what=what), what):
        if tag == _PUBKEY:
            primary_start = len(keys)
            user_ids = []
        if tag in (_PUBKEY, _PUBSUBKEY):
            key = _public_key(body, what)
            if key is not None:
                keys.append(key)
        elif tag == _USERID:
            user_ids.append(body.decode("utf-8", "replace"))
            for i in range(primary_start, len(keys)):
                k = keys[i]
                keys[i] = PublicKey(k.fingerprint, k.algorithm, k.key, tuple(user_ids))
    if not keys:
        raise SignatureError(f"{what}: no usable OpenPGP public key (RSA, DSA, ECDSA, EdDSA)")
    return keys


def _subpackets(data: bytes, what: str) -> Iterator[tuple[int, bytes]]:
    reader = _Reader(data, what)
    while reader.pos < len(data):
        o1 = reader.byte()
        if o1 < 192:
            length = o1
        elif o1 < 255:
            length = ((o1 - 192) << 8) + reader.byte() + 192
        else:
            length = struct.unpack(">I", reader.take(4))[0]
        if length == 0:
            raise SignatureError(f"{what}: empty signature subpacket")
        body = reader.take(length)
        yield body[0] & 0x7F, body[1:]


def parse_signature(data: bytes, *, what: str = "signature") -> Signature:
    """Parse one signature packet (binary or armored)."""
    packets = [(t, b) for t, b in _packets(dearmor(data, what=what), what) if t == _SIGNATURE]
    if len(packets) != 1:
        raise SignatureError(f"{what}: expected one OpenPGP signature packet")
    body = packets[0][1]
    reader = _Reader(body, what)
    version = reader.byte()
    issuer = issuer_fp = b""
    if version == 3:
        if reader.byte() != 5:
            raise SignatureError(f"{what}: malformed v3 signature")
        trailer = reader.take(5)
        sig_type = trailer[0]
        issuer = reader.take(8)
        algorithm, hash_algorithm = reader.byte(), reader.byte()
    elif version == 4:
        sig_type = reader.byte()
        algorithm, hash_algorithm = reader.byte(), reader.byte()
        hashed = reader.take(struct.unpack(">H", reader.take(2))[0])
        hashed_part = body[: reader.pos]
        trailer = hashed_part + b"\x04\xff" + struct.pack(">I", len(hashed_part))
        unhashed = reader.take(struct.unpack(">H", reader.take(2))[0])
        for kind, value in [*_subpackets(hashed, what), *_subpackets(unhashed, what)]:
            if kind == 16 and len(value) == 8:
                issuer = issuer or value
            elif kind == 33 and len(value) > 1:
                issuer_fp = issuer_fp or value[1:]
    else:
        raise SignatureError(f"{what}: unsupported OpenPGP signature version {version}")
    left16 = reader.take(2)
    count = {_DSA: 2, _ECDSA: 2, _EDDSA: 2}.get(algorithm, 1)
    values = tuple(reader.mpi() for _ in range(count))
    return Signature(
        version, algorithm, hash_algorithm, trailer, left16, values, issuer, issuer_fp, sig_type
    )


def _find_key(signature: Signature, keys: Sequence[PublicKey]) -> PublicKey | None:
    for key in keys:
        if signature.issuer_fingerprint and key.fingerprint == signature.issuer_fingerprint:
            return key
        if signature.key_id and key.key_id == signature.key_id:
            return key
    return None


def verify_signature(
    signature: Signature, data: bytes, keys: Sequence[PublicKey], *, what: str
) -> PublicKey | None:
    """Check ``signature`` over ``data``; the key that made it, or None if none of ``keys`` is it.

    A signature made by one of ``keys`` that does not verify raises :class:`SignatureError`.
    """
    key = _find_key(signature, keys)
    if key is None:
        return None
    name = _HASHLIB.get(signature.hash_algorithm)
    if name is None:
        raise SignatureError(f"{what}: unsupported hash algorithm {signature.hash_algorithm}")
    digest = hashlib.new(name, data + signature.trailer).digest()
    bad = SignatureError(f"{what}: BAD signature by key {key.describe()}")
    if digest[:2] != signature.left16:
        raise bad
    algorithm = _HASHES[signature.hash_algorithm]()
    prehashed = utils.Prehashed(algorithm)
    try:
        if isinstance(key.key, rsa.RSAPublicKey) and signature.algorithm in _RSA:
            size = (key.key.key_size + 7) // 8
            raw = signature.values[0].to_bytes(size, "big")
            key.key.verify(raw, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(key.key, dsa.DSAPublicKey) and signature.algorithm == _DSA:
            der = utils.encode_dss_signature(*signature.values)
            key.key.verify(der, digest, prehashed)
        elif isinstance(key.key, ec.EllipticCurvePublicKey) and signature.algorithm == _ECDSA:
            der = utils.encode_dss_signature(*signature.values)
            key.key.verify(der, digest, ec.ECDSA(prehashed))
        elif isinstance(key.key, ed25519.Ed25519PublicKey) and signature.algorithm == _EDDSA:
            r, s = (v.to_bytes(32, "big") for v in signature.values)
            key.key.verify(r + s, digest)
        else:
            raise SignatureError(
                f"{what}: signature algorithm {signature.algorithm} does not match the key"
            )
    except (InvalidSignature, OverflowError, ValueError):
        raise bad from None
    return key


def verify_detached(
    signature: bytes, data: bytes, keys: Sequence[PublicKey], *, what: str
) -> PublicKey:
    """Check a detached signature (armored or binary) of ``data``; the key that made it.

    Only binary-document signatures (type 0x00) are accepted: a canonical-text signature
    would verify over line-ending-normalised bytes, not the bytes that are used. A
    signature by none of ``keys`` is a :class:`SignatureError` naming the signer's key id.
    """
    parsed = parse_signature(signature, what=what)
    if parsed.kind != _BINARY_DOCUMENT:
        raise SignatureError(
            f"{what}: signature type 0x{parsed.kind:02x} is not a binary-document signature"
        )
    key = verify_signature(parsed, data, keys, what=what)
    if key is None:
        known = ", ".join(k.key_id.hex().upper() for k in keys) or "none"
        raise SignatureError(
            f"{what}: signed by key {parsed.key_id.hex().upper()}, which is not one of the"
            f" repository's keys ({known})"
        )
    return key
