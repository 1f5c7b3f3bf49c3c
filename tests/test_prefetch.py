"""Prefetcher: streams read ahead in a thread arrive whole, in order, with their errors."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import IO

import pytest

from ociforge.errors import DigestMismatch
from ociforge.prefetch import Prefetcher


def opener(data: bytes) -> Callable[[], IO[bytes]]:
    return lambda: io.BytesIO(data)


def test_streams_arrive_whole_and_in_order() -> None:
    blobs = [b"a" * 10, b"", b"b" * 100_001, b"c"]
    with Prefetcher([opener(b) for b in blobs], chunk_size=4096, depth=2) as prefetch:
        got = [stream.read() for stream in prefetch]
    assert got == blobs


def test_small_reads_and_skipped_rest() -> None:
    blobs = [b"0123456789" * 1000, b"next"]
    with Prefetcher([opener(b) for b in blobs], chunk_size=333) as prefetch:
        streams = iter(prefetch)
        first = next(streams)
        assert first.read(3) == b"012"
        assert first.read(5) == b"34567"
        second = next(streams)  # the rest of the first stream is consumed on the way
        assert second.read() == b"next"


def test_reader_errors_surface_in_order() -> None:
    def broken() -> IO[bytes]:
        raise DigestMismatch("layer 1: content has digest x, expected y")

    with Prefetcher([opener(b"fine"), broken]) as prefetch:
        streams = iter(prefetch)
        assert next(streams).read() == b"fine"
        with pytest.raises(DigestMismatch, match="layer 1"):
            next(streams).read()


def test_leaving_early_stops_the_thread() -> None:
    with Prefetcher([opener(b"x" * 1_000_000)] * 50, chunk_size=1000, depth=2) as prefetch:
        next(iter(prefetch)).read(10)
        assert any(t.name == "ociforge-prefetch" for t in threading.enumerate())
    assert not any(t.name == "ociforge-prefetch" for t in threading.enumerate())
