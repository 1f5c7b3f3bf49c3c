"""Read a whole RPM with ociforge, for tests that damage packages and expect a clean error."""

from __future__ import annotations

import io

from ociforge.rpm.package import read_package
from ociforge.rpm.payload import iter_payload


def read_everything(data: bytes, *, what: str = "tampered.rpm") -> None:
    """Parse the package in ``data`` and read every file of its payload to the end.

    Every check ociforge makes on the way (lead, signature, header digests, payload and file
    digests) runs; damage anywhere raises.
    """
    stream = io.BytesIO(data)
    package = read_package(stream, what=what)
    for item in iter_payload(package, stream):
        if item.data:
            item.data.read()
