"""Tar members written byte by byte, so tests can put any value in any header field."""

from __future__ import annotations

from ociforge.tar.header import REG, TarHeader, encode_header, padding

__all__ = ["base256", "checksummed", "pax", "ustar"]


def checksummed(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def ustar(name: str, *, data: bytes = b"", type: str = REG, **fields: bytes) -> bytes:
    """One member; ``fields`` overwrite raw numeric fields (uid, size, devmajor, ...)."""
    block = bytearray(encode_header(TarHeader(name, type=type, size=len(data)))[-512:])
    offsets = {"uid": 108, "gid": 116, "size": 124, "mtime": 136, "devmajor": 329, "devminor": 337}
    for key, raw in fields.items():
        start = offsets[key]
        width = 12 if key in ("size", "mtime") else 8
        block[start : start + width] = raw.rjust(width, b"\0")[:width]
    return checksummed(block) + data + b"\0" * padding(len(data))


def pax(records: dict[str, str], kind: bytes = b"x") -> bytes:
    """A PAX extended (``x``) or global (``g``) header block with its records."""
    body = b""
    for key, value in records.items():
        text = f" {key}={value}\n".encode()
        length = len(text) + 1
        while len(str(length)) + len(text) != length:
            length = len(str(length)) + len(text)
        body += str(length).encode() + text
    block = bytearray(encode_header(TarHeader("././@PaxHeader", size=len(body)))[-512:])
    block[156:157] = kind
    return checksummed(block) + body + b"\0" * padding(len(body))


def base256(value: int, width: int) -> bytes:
    if value < 0:
        return value.to_bytes(width, "big", signed=True)
    return bytes([0x80]) + value.to_bytes(width - 1, "big")
