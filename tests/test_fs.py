"""The filesystem primitives both writers share: verified kernel copies of file ranges."""

import hashlib
import os
import random
from pathlib import Path

import pytest

from ociforge import mediatypes as mt
from ociforge._fs import RangeVerifier, copy_range
from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, SizeMismatch
from ociforge.spec import Descriptor
from ociforge.streams import FileRange

# Seeded, so a failure replays with the same bytes.
DATA = random.Random(20261202).randbytes((40 << 20) + 12345)


@pytest.mark.parametrize(
    ("offset", "size"),
    [
        (0, 0),
        (0, 1),
        (7, len(DATA) - 7),
        (3 * 4096 + 5, (17 << 20) + 3),
        (1 << 20, 16 << 20),
        (0, len(DATA)),
    ],
)
def test_verifier_hashes_any_range_through_windows(tmp_path: Path, offset: int, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    try:
        good = Descriptor(mt.OCI_LAYER, Digest.of_bytes(DATA[offset : offset + size]), size)
        verifier = RangeVerifier()
        verifier.submit(FileRange(fd, offset, size), good, what="blob")
        verifier.finish()
        bad = Descriptor(mt.OCI_LAYER, Digest.of_bytes(b"other"), size)
        verifier = RangeVerifier()
        verifier.submit(FileRange(fd, offset, size), bad, what="blob x")
        with pytest.raises(DigestMismatch, match="blob x"):
            verifier.finish()
    finally:
        os.close(fd)


def test_verifier_owns_its_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA[:4096])
    fd = os.open(path, os.O_RDONLY)
    verifier = RangeVerifier()
    verifier.submit(
        FileRange(fd, 0, 4096),
        Descriptor(mt.OCI_LAYER, Digest.of_bytes(DATA[:4096]), 4096),
        what="b",
    )
    os.close(fd)  # the caller may close its descriptor at once
    verifier.finish()


def test_size_disagreement_is_refused_at_submit(tmp_path: Path) -> None:
    verifier = RangeVerifier()
    with pytest.raises(SizeMismatch):
        verifier.submit(
            FileRange(0, 0, 10), Descriptor(mt.OCI_LAYER, Digest.of_bytes(b""), 11), what="b"
        )
    verifier.cancel()


def test_copy_range_copies_exactly(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(DATA)
    with open(src, "rb") as s, open(dst, "wb") as d:
        d.write(b"head")
        d.flush()
        copy_range(FileRange(s.fileno(), 1000, 5 << 20), d.fileno())
    assert dst.read_bytes() == b"head" + DATA[1000 : 1000 + (5 << 20)]
    assert (
        hashlib.sha256(dst.read_bytes()[4:]).digest()
        == hashlib.sha256(DATA[1000 : 1000 + (5 << 20)]).digest()
    )
