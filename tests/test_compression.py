import gzip
import hashlib
import io
import random
import subprocess
import zlib

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge.compression import (
    LayerWriter,
    compress_bytes,
    decompress_bytes,
    open_decompressor,
    sniff,
)
from ociforge.errors import CompressionError, SizeMismatch
from tests.support.tools import need

CODECS = ["gzip", "zstd", "none"]
# Mixed content: incompressible, repetitive, and across igzip's 1 MiB block boundary.
_RANDOM = random.Random(20261202)  # seeded: a failure replays with the same bytes
SAMPLE = _RANDOM.randbytes(700_000) + b"abc" * 300_000 + _RANDOM.randbytes(1000)


def chunked_write(
    data: bytes, codec: str, sizes: list[int], threads: int | None = None
) -> tuple[bytes, object]:
    out = io.BytesIO()
    w = LayerWriter(out, codec, threads=threads)  # type: ignore[arg-type]
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        w.write(data[pos : pos + n])
        pos += n
        i += 1
    result = w.close()
    return out.getvalue(), result


@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=1_500_000), min_size=1, max_size=5))
def test_streamed_equals_one_shot_for_any_chunking(codec: str, sizes: list[int]) -> None:
    one_shot = compress_bytes(SAMPLE, codec)  # type: ignore[arg-type]
    streamed, _ = chunked_write(SAMPLE, codec, sizes)
    assert streamed == one_shot


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_output_independent_of_thread_count(codec: str) -> None:
    one, _ = chunked_write(SAMPLE, codec, [65536], threads=1)
    two, _ = chunked_write(SAMPLE, codec, [65536], threads=2)
    four, _ = chunked_write(SAMPLE, codec, [65536], threads=4)
    assert one == two == four


@pytest.mark.parametrize("codec", CODECS)
def test_one_pass_digests_match_hashlib(codec: str) -> None:
    blob, result = chunked_write(SAMPLE, codec, [123_457])
    assert str(result.diff_id) == "sha256:" + hashlib.sha256(SAMPLE).hexdigest()  # type: ignore[attr-defined]
    assert str(result.digest) == "sha256:" + hashlib.sha256(blob).hexdigest()  # type: ignore[attr-defined]
    assert result.size == len(blob)  # type: ignore[attr-defined]
    assert result.uncompressed_size == len(SAMPLE)  # type: ignore[attr-defined]


@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=20, deadline=None)
@given(read_size=st.integers(min_value=1, max_value=3_000_000))
def test_decompress_any_read_size(codec: str, read_size: int) -> None:
    blob = compress_bytes(SAMPLE, codec)  # type: ignore[arg-type]
    reader = open_decompressor(io.BytesIO(blob), codec)  # type: ignore[arg-type]
    out = bytearray()
    while piece := reader.read(read_size):
        out += piece
    assert bytes(out) == SAMPLE


def test_gzip_output_is_one_standard_member_readable_by_gzip_cli() -> None:
    need("gzip")
    blob = compress_bytes(SAMPLE, "gzip")
    assert gzip.decompress(blob) == SAMPLE
    d = zlib.decompressobj(31)
    assert d.decompress(blob) == SAMPLE and d.eof and d.unused_data == b""  # a single member
    proc = subprocess.run(["gzip", "-dc"], input=blob, capture_output=True, check=True)
    assert proc.stdout == SAMPLE
    assert blob[4:8] == b"\0\0\0\0"  # header mtime 0: reproducible


def test_zstd_output_readable_by_zstd_cli() -> None:
    need("zstd")
    blob = compress_bytes(SAMPLE, "zstd")
    proc = subprocess.run(["zstd", "-dc"], input=blob, capture_output=True, check=True)
    assert proc.stdout == SAMPLE


def test_reads_what_the_cli_tools_write() -> None:
    need("pigz", "zstd")
    pigz = subprocess.run(
        ["pigz", "-c", "-p", "2"], input=SAMPLE, capture_output=True, check=True
    ).stdout
    zst = subprocess.run(
        ["zstd", "-c", "-T0", "-3"], input=SAMPLE, capture_output=True, check=True
    ).stdout
    assert decompress_bytes(pigz, "gzip") == SAMPLE
    assert decompress_bytes(zst, "zstd") == SAMPLE


def test_multi_member_gzip_is_read_to_the_end() -> None:
    blob = gzip.compress(b"first ", mtime=0) + gzip.compress(b"second", mtime=0)
    assert decompress_bytes(blob, "gzip") == b"first second"


def test_multi_frame_zstd_is_read_to_the_end() -> None:
    c = zstandard.ZstdCompressor()
    assert (
        decompress_bytes(c.compress(b"first ") + c.compress(b"second"), "zstd") == b"first second"
    )


def test_skippable_zstd_frame() -> None:
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"xyz"
    assert decompress_bytes(skippable + zstandard.ZstdCompressor().compress(b"ok"), "zstd") == b"ok"


def test_gzip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB from ~64 KiB
    assert len(bomb) < 100_000
    with pytest.raises(SizeMismatch, match="decompression bomb"):
        decompress_bytes(bomb, "gzip", limit=1 << 20)


def test_zstd_bomb_is_bounded() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\0" * (64 << 20))
    with pytest.raises(SizeMismatch, match="decompression bomb"):
        decompress_bytes(bomb, "zstd", limit=1 << 20)


def test_zstd_frame_asking_for_a_huge_window_is_refused() -> None:
    # Frame header: no single-segment flag, window descriptor exponent 21 → 2 GiB window.
    frame = b"\x28\xb5\x2f\xfd" + bytes([0x00, 21 << 3]) + (1 | (0 << 1)).to_bytes(3, "little")
    with pytest.raises(CompressionError, match="memory"):
        decompress_bytes(frame, "zstd")


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("cut", [1, 10, 200, -8, -1])
def test_truncated_streams_are_errors(codec: str, cut: int) -> None:
    blob = compress_bytes(SAMPLE, codec)  # type: ignore[arg-type]
    with pytest.raises(CompressionError, match="truncated"):
        decompress_bytes(blob[:cut], codec)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_corrupt_streams_are_errors(codec: str) -> None:
    blob = bytearray(compress_bytes(SAMPLE, codec))  # type: ignore[arg-type]
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(CompressionError):
        decompress_bytes(bytes(blob), codec)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_empty_compressed_stream_is_an_error(codec: str) -> None:
    with pytest.raises(CompressionError, match="empty"):
        decompress_bytes(b"", codec)  # type: ignore[arg-type]


def test_sniff() -> None:
    assert sniff(compress_bytes(b"x", "gzip")) == "gzip"
    assert sniff(compress_bytes(b"x", "zstd")) == "zstd"
    assert sniff(b"plain") == "none"
