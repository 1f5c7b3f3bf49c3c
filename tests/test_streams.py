import io
import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, SizeMismatch
from ociforge.streams import HashingWriter, RangeReader, VerifyingReader, copy_stream, drain


def test_verifying_reader_accepts_matching_bytes() -> None:
    data = random.Random(3000).randbytes(3000)
    r = VerifyingReader(io.BytesIO(data), digest=Digest.of_bytes(data), size=len(data))
    assert r.read() == data
    assert r.verified


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=700))
def test_verifying_reader_any_chunk_size(data: bytes, chunk: int) -> None:
    r = VerifyingReader(io.BytesIO(data), digest=Digest.of_bytes(data), size=len(data))
    out = bytearray()
    while piece := r.read(chunk):
        out += piece
    assert bytes(out) == data


def test_wrong_digest_raises_at_end() -> None:
    r = VerifyingReader(io.BytesIO(b"abc"), digest=Digest.of_bytes(b"abd"), size=3, what="blob x")
    with pytest.raises(DigestMismatch, match="blob x"):
        drain(r)


def test_truncated_raises() -> None:
    r = VerifyingReader(io.BytesIO(b"ab"), digest=Digest.of_bytes(b"abc"), size=3)
    with pytest.raises(SizeMismatch, match="truncated"):
        drain(r)


class Endless(io.RawIOBase):
    def readinto(self, b):  # type: ignore[no-untyped-def]
        b[: len(b)] = b"x" * len(b)
        return len(b)

    def readable(self) -> bool:
        return True


def test_endless_body_fails_fast_instead_of_hanging() -> None:
    r = VerifyingReader(Endless(), digest=Digest.of_bytes(b"x" * 10), size=10)
    with pytest.raises(SizeMismatch, match="more than the expected 10 bytes"):
        drain(r)


def test_hashing_writer_counts_and_forwards() -> None:
    sink = io.BytesIO()
    w = HashingWriter(sink)
    copy_stream(io.BytesIO(b"hello world"), w, chunk_size=3)
    assert sink.getvalue() == b"hello world"
    assert w.size == 11
    assert w.digest() == Digest.of_bytes(b"hello world")


def test_range_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "f"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDONLY)
    try:
        r = RangeReader(fd, 2, 5)
        assert r.read(2) == b"23"
        assert r.read() == b"456"
        assert r.read() == b""
        r.seek(0)
        buf = bytearray(10)
        assert r.readinto(buf) == 5
        assert bytes(buf[:5]) == b"23456"
    finally:
        os.close(fd)
