"""Detached OpenPGP signatures of files (``repomd.xml.asc``), made by gpg, checked by ociforge."""

from __future__ import annotations

from pathlib import Path

import pytest

from ociforge.errors import SignatureError
from ociforge.rpm.signature import load_keys, parse_signature, verify_detached
from tests.support import rpms
from tests.support.tools import run


def sign(key: rpms.Key, path: Path, *extra: str) -> bytes:
    out = path.with_suffix(path.suffix + ".sig")
    out.unlink(missing_ok=True)
    run(
        ["gpg", "--homedir", str(key.home), "--batch", "--pinentry-mode", "loopback",
         "--passphrase", "", "--local-user", key.fingerprint, "--detach-sign", *extra,
         "--output", str(out), str(path)]
    )  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short: gpg-agent's socket lives in the key's home and must fit sun_path.
    return tmp_path_factory.mktemp("k")


@pytest.mark.parametrize("algorithm", ["rsa2048", "ed25519", "nistp256"])
def test_binary_detached_signatures_verify(keydir: Path, tmp_path: Path, algorithm: str) -> None:
    key = rpms.make_key(keydir, algorithm)
    data = tmp_path / "repomd.xml"
    data.write_bytes(b"<repomd>\r\n</repomd>\n")
    keys = load_keys(key.public.read_bytes())
    for armor in ((), ("--armor",)):
        signature = sign(key, data, *armor)
        assert parse_signature(signature).kind == 0x00
        assert (
            verify_detached(signature, data.read_bytes(), keys, what="x").fingerprint.hex().upper()
            == key.fingerprint
        )
        with pytest.raises(SignatureError, match="BAD signature"):
            verify_detached(signature, data.read_bytes() + b" ", keys, what="x")


def test_text_signatures_and_strangers_are_refused(keydir: Path, tmp_path: Path) -> None:
    key = rpms.make_key(keydir, "ed25519", "signer")
    stranger = rpms.make_key(keydir, "ed25519", "stranger")
    data = tmp_path / "repomd.xml"
    data.write_bytes(b"<repomd/>\n")
    text = sign(key, data, "--textmode")
    assert parse_signature(text).kind == 0x01
    with pytest.raises(SignatureError, match="type 0x01 is not a binary-document signature"):
        verify_detached(text, data.read_bytes(), load_keys(key.public.read_bytes()), what="x")
    good = sign(key, data)
    with pytest.raises(SignatureError, match="which is not one of the repository's keys"):
        verify_detached(good, data.read_bytes(), load_keys(stranger.public.read_bytes()), what="x")
    with pytest.raises(SignatureError):
        verify_detached(b"not a signature", data.read_bytes(), [], what="x")
