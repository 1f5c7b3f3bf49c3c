import hashlib

import pytest

from ociforge.digest import Digest
from ociforge.errors import InvalidDigest

HEX = hashlib.sha256(b"x").hexdigest()


def test_parse_and_format_round_trip() -> None:
    d = Digest.parse(f"sha256:{HEX}")
    assert (d.algorithm, d.hex) == ("sha256", HEX)
    assert str(d) == f"sha256:{HEX}"


def test_of_bytes_matches_hashlib() -> None:
    assert Digest.of_bytes(b"x") == Digest("sha256", HEX)
    assert Digest.of_bytes(b"x", "sha512").hex == hashlib.sha512(b"x").hexdigest()
    assert Digest.of_chunks([b"a", b"b"]) == Digest.of_bytes(b"ab")


@pytest.mark.parametrize(
    "text",
    [
        "sha256:../../x",  # CVE-2024-3727: path traversal through a digest string
        "sha256:" + HEX.upper(),  # uppercase hex
        "sha256:" + HEX[:-1],  # wrong length
        "sha256:" + HEX + "0",
        "md5:" + "0" * 32,  # unsupported algorithm
        HEX,  # no algorithm
        "sha256:" + "g" * 64,
        "sha256:" + HEX + "\n",
        "",
    ],
)
def test_invalid_digests_are_refused(text: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(text)


def test_invalid_digest_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid sha256 digest"):
        Digest.parse("sha256:abc")


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(42)
