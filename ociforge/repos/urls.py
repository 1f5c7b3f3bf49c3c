"""``--rpm URL``: packages fetched from a URL (koji, a mirror, a GitHub release), resumably.

There is no repository metadata to check a bare URL's bytes against, so what is checked is
what rpm checks: the header and payload digests (while the package is read and installed),
the signature when keys are given, and TLS on the way. A download goes to
``CACHE/urls/SHA256-OF-URL.rpm.part`` and is resumed with ``Range`` after a dropped
connection; it is renamed only once complete and read back as an RPM. ``file://`` URLs and
plain paths are not downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from typing import BinaryIO, Final
from urllib.parse import urlsplit

from ..errors import OciforgeError, RepoError, TransportError
from ..rpm.package import read_package
from .client import RangeNotSatisfiable, RepoClient
from .config import RepoConfig
from .options import FetchOptions

__all__ = ["download_url", "download_urls", "is_url"]

_CHUNK: Final = 1 << 20


def is_url(text: str) -> bool:
    """Whether ``--rpm text`` names a URL to download (http or https)."""
    return urlsplit(text).scheme in ("http", "https")


def download_url(url: str, *, options: FetchOptions | None = None) -> str:
    """The path of the package at ``url`` in the cache, downloading (or resuming) it."""
    options = options or FetchOptions()
    what = f"--rpm {url}"
    if not is_url(url):
        raise RepoError(f"{what}: only http:// and https:// URLs are downloaded")
    directory = os.path.join(options.directory, "urls")
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, hashlib.sha256(url.encode()).hexdigest() + ".rpm")
    part = final + ".part"
    config = RepoConfig(id="url", name=url, baseurls=(url,), gpgcheck=False, source="--rpm")
    client = RepoClient(config, retry=options.retry)
    try:
        attempts = max(1, options.retry.attempts)
        with open(part, "ab") as handle:
            for attempt in range(1, attempts + 1):
                try:
                    _resume(client, url, handle, what)
                    break
                except TransportError:
                    if attempt == attempts:
                        raise
            handle.flush()
            os.fsync(handle.fileno())
        with open(part, "rb") as check:
            read_package(check, what=what)  # a cut or non-RPM body fails here, not later
        os.replace(part, final)
    except TransportError:
        raise  # the .part stays: a rerun resumes it
    except (OciforgeError, OSError):
        _remove(part)
        raise
    finally:
        client.close()
    return final


def _resume(client: RepoClient, url: str, handle: BinaryIO, what: str) -> None:
    handle.seek(0, os.SEEK_END)
    have = handle.tell()
    try:
        with client.open(url, what=what, offset=have) as body:
            if body.offset == 0 and have:
                handle.truncate(0)  # the server ignored the range: start again
                handle.seek(0)
            while chunk := body.read(_CHUNK):
                handle.write(chunk)
    except RangeNotSatisfiable:
        return  # already complete


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def download_urls(urls: Sequence[str], *, options: FetchOptions | None = None) -> list[str]:
    """:func:`download_url` for each URL, in order."""
    return [download_url(url, options=options) for url in urls]
