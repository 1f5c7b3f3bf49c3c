"""Upload bodies: lengths, reads from file ranges and readers, checks before the last byte."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociforge.blobs import BytesSource
from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, SizeMismatch
from ociforge.registry.bodies import BlobBody, Cancelled, Feed, FileFeed, ReaderFeed
from ociforge.spec import Descriptor
from ociforge.streams import CHUNK_SIZE, FileRange

BLOB = random.Random(17).randbytes(3 * CHUNK_SIZE + 12345)  # several buffers and a bit
DESCRIPTOR = Descriptor(
    "application/octet-stream", Digest("sha256", hashlib.sha256(BLOB).hexdigest()), len(BLOB)
)
PREFIX = b"tar header and other members " * 100  # the blob sits inside a bigger file


@pytest.fixture
def span(tmp_path: Path) -> Iterator[FileRange]:
    """The blob as a byte range of an open file, as an ociarchive member is."""
    path = tmp_path / "archive"
    path.write_bytes(PREFIX + BLOB + b"trailing members")
    fd = os.open(path, os.O_RDONLY)
    try:
        yield FileRange(fd, len(PREFIX), len(BLOB))
    finally:
        os.close(fd)


def reader() -> io.BufferedIOBase:
    return BytesSource({DESCRIPTOR.digest: BLOB}).open_blob(DESCRIPTOR)  # type: ignore[return-value]


def drain(feed: Feed, piece: int, length: int) -> bytes:
    """``length`` bytes read from ``feed`` in pieces of at most ``piece``."""
    out = bytearray()
    while len(out) < length:
        data = feed.read(min(piece, length - len(out)))
        assert data, "feed ended early"
        out += bytes(data)  # copy: a FileFeed's view is of a reused buffer
    return bytes(out)


def feeds(span: FileRange, offset: int) -> list[Feed]:
    """Both kinds of feed of the blob, from ``offset``."""
    return [
        FileFeed(span, DESCRIPTOR, offset, what="blob"),
        ReaderFeed(reader(), offset, what="blob"),
    ]


@pytest.mark.parametrize("offset", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 7])
@pytest.mark.parametrize("piece", [1000, CHUNK_SIZE, 3 * CHUNK_SIZE])
def test_feeds_give_the_blob_from_an_offset(span: FileRange, offset: int, piece: int) -> None:
    for feed in feeds(span, offset):
        assert drain(feed, piece, len(BLOB) - offset) == BLOB[offset:]
        feed.check_end()  # the whole blob was hashed, skipped part included


def test_a_file_feed_reads_only_its_range(span: FileRange) -> None:
    feed = FileFeed(span, DESCRIPTOR, 0, what="blob")
    assert bytes(feed.read(len(PREFIX) + len(BLOB) + 100)) == BLOB[:CHUNK_SIZE]  # one buffer
    while len(feed.read(CHUNK_SIZE)):
        pass
    feed.check_end()
    assert len(feed.read(CHUNK_SIZE)) == 0  # never past the range into the next member


def test_a_changed_byte_before_the_offset_is_still_caught(tmp_path: Path) -> None:
    # Resuming at an offset must not skip verification of what the registry already holds.
    path = tmp_path / "blob"
    changed = bytearray(BLOB)
    changed[10] ^= 1
    path.write_bytes(changed)
    fd = os.open(path, os.O_RDONLY)
    try:
        feed = FileFeed(FileRange(fd, 0, len(BLOB)), DESCRIPTOR, CHUNK_SIZE, what="blob x")
        while len(feed.read(CHUNK_SIZE)):
            pass
        with pytest.raises(DigestMismatch, match="blob x: content has digest"):
            feed.check_end()
    finally:
        os.close(fd)


def test_file_feed_size_errors(span: FileRange, tmp_path: Path) -> None:
    wrong = Descriptor(DESCRIPTOR.media_type, DESCRIPTOR.digest, len(BLOB) + 1)
    with pytest.raises(SizeMismatch, match=rf"layer: is {len(BLOB)} bytes, its descriptor says"):
        FileFeed(span, wrong, 0, what="layer")
    feed = FileFeed(span, DESCRIPTOR, 0, what="layer")
    feed.read(100)
    with pytest.raises(SizeMismatch, match=f"layer: read 100 of {len(BLOB)} bytes"):
        feed.check_end()
    short = tmp_path / "short"
    short.write_bytes(BLOB[:500])  # the file was cut after the archive was indexed
    fd = os.open(short, os.O_RDONLY)
    try:
        feed = FileFeed(FileRange(fd, 0, len(BLOB)), DESCRIPTOR, 0, what="layer")
        feed.read(500)
        with pytest.raises(SizeMismatch, match="layer: the file ends early"):
            feed.read(500)
    finally:
        os.close(fd)


def test_reader_feed_errors() -> None:
    with pytest.raises(SizeMismatch, match=f"cfg: ends before byte {len(BLOB) + 1}"):
        ReaderFeed(io.BytesIO(BLOB), len(BLOB) + 1, what="cfg")
    longer = ReaderFeed(io.BytesIO(BLOB + b"!"), len(BLOB), what="cfg")
    with pytest.raises(SizeMismatch, match="cfg: longer than its descriptor says"):
        longer.check_end()
    tampered = bytearray(BLOB)
    tampered[-1] ^= 1
    source = BytesSource({DESCRIPTOR.digest: bytes(tampered)}, name="src")
    feed = ReaderFeed(source.open_blob(DESCRIPTOR), 0, what="cfg")  # type: ignore[arg-type]
    feed.read(len(BLOB))
    with pytest.raises(DigestMismatch):
        feed.check_end()


def body(feed: Feed, length: int, *, final: bool, counted: list[int] | None = None) -> BlobBody:
    counter = counted if counted is not None else []
    return BlobBody(feed, length, final=final, on_read=counter.append, stop=threading.Event())


def test_chunk_bodies_have_their_length_and_no_more(span: FileRange) -> None:
    # As a chunked push does: PATCH bodies of a fixed length, then the closing PUT's body.
    feed = FileFeed(span, DESCRIPTOR, 0, what="blob")
    counted: list[int] = []
    sent = bytearray()
    lengths = [CHUNK_SIZE + 1, 777]
    for length in lengths:
        patch = body(feed, length, final=False, counted=counted)
        assert len(patch) == length
        while piece := patch.read(CHUNK_SIZE):
            sent += bytes(piece)
        assert len(sent) == sum(lengths[: lengths.index(length) + 1])
    rest = len(BLOB) - len(sent)
    put = body(feed, rest, final=True, counted=counted)
    assert len(put) == rest
    while piece := put.read(-1):
        sent += bytes(piece)
    assert bytes(sent) == BLOB
    assert sum(counted) == len(BLOB)  # progress saw every byte once


def test_the_last_piece_is_held_until_the_blob_is_verified(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    changed = bytearray(BLOB)
    changed[0] ^= 1
    path.write_bytes(changed)
    fd = os.open(path, os.O_RDONLY)
    try:
        feed = FileFeed(FileRange(fd, 0, len(BLOB)), DESCRIPTOR, 0, what="blob")
        put = body(feed, len(BLOB), final=True)
        got = [len(put.read(CHUNK_SIZE)) for _ in range(len(BLOB) // CHUNK_SIZE)]
        assert sum(got) == len(BLOB) - len(BLOB) % CHUNK_SIZE
        with pytest.raises(DigestMismatch):
            put.read(CHUNK_SIZE)  # the last piece: the request never receives it
    finally:
        os.close(fd)


def test_a_body_whose_feed_ends_early() -> None:
    short = ReaderFeed(io.BytesIO(BLOB[:10]), 0, what="b")
    put = body(short, 20, final=True)
    assert put.read(15) == BLOB[:10]
    with pytest.raises(SizeMismatch, match="blob source ended before its declared size"):
        put.read(15)


def test_a_cancelled_push_stops_the_body(span: FileRange) -> None:
    stop = threading.Event()
    put = BlobBody(
        FileFeed(span, DESCRIPTOR, 0, what="b"),
        len(BLOB),
        final=True,
        on_read=lambda _n: None,
        stop=stop,
    )
    assert len(put.read(10)) == 10
    stop.set()
    with pytest.raises(Cancelled, match="push cancelled"):
        put.read(10)


def test_a_retry_reads_the_rest_again_from_the_source(span: FileRange) -> None:
    # The first attempt dies after some bytes; the registry says how many it kept; a new
    # feed at that offset re-reads from the file (or re-opens the reader) and still checks
    # the whole blob before the final byte.
    kept = CHUNK_SIZE + 4321
    first = body(FileFeed(span, DESCRIPTOR, 0, what="b"), len(BLOB), final=True)
    sent = bytearray()
    while len(sent) < kept + 1000:  # the connection dropped after more than was kept
        sent += bytes(first.read(1000))
    for feed in feeds(span, kept):
        again = body(feed, len(BLOB) - kept, final=True)
        resumed = bytearray(sent[:kept])
        while piece := again.read(CHUNK_SIZE):
            resumed += bytes(piece)
        assert bytes(resumed) == BLOB
