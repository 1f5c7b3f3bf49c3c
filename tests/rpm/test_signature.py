"""Header signatures made by rpmsign and gpg, checked with our OpenPGP code; rpm agrees."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from ociforge.errors import SignatureError
from ociforge.rpm.package import read_package
from ociforge.rpm.signature import load_keys, parse_signature, verify_signature
from tests.support import rpms
from tests.support.tools import need, run


def open_rpm(data: bytes, **kw: object) -> object:
    return read_package(io.BytesIO(data), what="pkg.rpm", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
@pytest.mark.parametrize("form", ["public", "public_binary"])
def test_rpmsign_signature_verifies(
    algorithm: str,
    form: str,
    signed_rpms: dict[str, Path],
    rsa_key: rpms.Key,
    ed25519_key: rpms.Key,
) -> None:
    key = {"rsa": rsa_key, "ed25519": ed25519_key}[algorithm]
    keys = load_keys(getattr(key, form).read_bytes())
    package = read_package(signed_rpms[algorithm].open("rb"), keys=keys, require_signatures=True)
    assert package.signer.startswith(key.fingerprint[-16:])


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_rpm_itself_agrees(
    algorithm: str,
    signed_rpms: dict[str, Path],
    rsa_key: rpms.Key,
    ed25519_key: rpms.Key,
    tmp_path: Path,
) -> None:
    need("rpm")
    key = {"rsa": rsa_key, "ed25519": ed25519_key}[algorithm]
    env = rpms.env(tmp_path)
    db = tmp_path / "db"
    run(["rpmkeys", "--dbpath", str(db), "--import", str(key.public)], env=env)
    out = run(["rpmkeys", "--dbpath", str(db), "-Kv", str(signed_rpms[algorithm])], env=env).stdout
    assert "Header V4" in out
    assert "BAD" not in out


def test_wrong_key_is_refused(signed_rpms: dict[str, Path], ed25519_key: rpms.Key) -> None:
    keys = load_keys(ed25519_key.public.read_bytes())
    with pytest.raises(SignatureError, match="unknown key"):
        open_rpm(signed_rpms["rsa"].read_bytes(), keys=keys, require_signatures=True)
    # Without --require-signatures the package is read, and the report says it was not checked.
    package = open_rpm(signed_rpms["rsa"].read_bytes(), keys=keys)
    assert "not checked" in package.notes[0]  # type: ignore[attr-defined]


def test_unsigned_is_refused_when_required(tiny_rpms: dict[str, Path], rsa_key: rpms.Key) -> None:
    keys = load_keys(rsa_key.public.read_bytes())
    with pytest.raises(SignatureError, match="not signed"):
        open_rpm(tiny_rpms["zstd"].read_bytes(), keys=keys, require_signatures=True)


def _sig_entry(data: bytes, tag: int) -> tuple[int, int]:
    # Independent parse of the signature header: offset and length of one BIN entry.
    off = 96
    il, _dl = struct.unpack(">II", data[off + 8 : off + 16])
    store = off + 16 + 16 * il
    for i in range(il):
        t, _ty, o, c = struct.unpack(">IIiI", data[off + 16 + 16 * i : off + 32 + 16 * i])
        if t == tag:
            return store + o, c
    raise AssertionError("no such tag")


@pytest.mark.parametrize(("algorithm", "tag"), [("rsa", 268), ("ed25519", 267)])
def test_bad_signature(
    algorithm: str, tag: int, signed_rpms: dict[str, Path], rsa_key: rpms.Key, ed25519_key: rpms.Key
) -> None:
    key = {"rsa": rsa_key, "ed25519": ed25519_key}[algorithm]
    data = bytearray(signed_rpms[algorithm].read_bytes())
    start, length = _sig_entry(bytes(data), tag)
    data[start + length - 3] ^= 0x55  # inside the signature value
    keys = load_keys(key.public.read_bytes())
    with pytest.raises(SignatureError, match="BAD signature"):
        open_rpm(bytes(data), keys=keys)


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("rsa2048", "SHA256"),
        ("rsa2048", "SHA512"),
        ("ed25519", "SHA256"),
        ("nistp256", "SHA256"),
        ("nistp384", "SHA384"),
    ],
)
def test_gpg_detached_signatures(
    algorithm: str, digest: str, rpm_dir: Path, tmp_path: Path
) -> None:
    # rpm 4.18 cannot make ECDSA signatures; gpg can, over any data, with the same packet format.
    key = rpms.make_key(rpm_dir, algorithm, name=f"detached {digest}")
    data = tmp_path / "data"
    data.write_bytes(b"header bytes stand-in\n" * 100)
    run(
        [
            "gpg",
            "--homedir",
            str(key.home),
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--digest-algo",
            digest,
            "-u",
            key.fingerprint,
            "--detach-sign",
            "-o",
            str(tmp_path / "sig"),
            str(data),
        ]
    )
    signature = parse_signature((tmp_path / "sig").read_bytes())
    keys = load_keys(key.public.read_bytes())
    assert verify_signature(signature, data.read_bytes(), keys, what="t") is not None
    with pytest.raises(SignatureError, match="BAD"):
        verify_signature(signature, data.read_bytes() + b"x", keys, what="t")


def test_armor_checksum_is_checked(rsa_key: rpms.Key) -> None:
    text = rsa_key.public.read_text().splitlines()
    crc_at = next(i for i, line in enumerate(text) if line.startswith("="))
    text[crc_at] = "=AAAA"
    with pytest.raises(SignatureError, match="checksum"):
        load_keys("\n".join(text).encode())


def test_garbage_key_file() -> None:
    with pytest.raises(SignatureError):
        load_keys(b"this is not a key")
