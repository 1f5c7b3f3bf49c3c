"""Mirror lists: metalink XML (mirrors plus the expected ``repomd.xml``) and plain mirrorlists.

A metalink (MirrorManager's, version 3.0) lists, for ``repomd.xml``, its size and hashes
(and those of recent older copies, ``mm0:alternates``, since mirrors lag) and the mirrors'
URLs of it with a protocol and a preference (higher first). A ``repomd.xml`` fetched from a
metalink's mirror must match one of those copies: that is what stops a mirror from serving
stale or forged metadata when the repository is not signed. A mirrorlist is one URL per line.
"""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from ..errors import DigestMismatch, RepoError, SizeMismatch
from ._xml import parse_xml
from .config import substitute

__all__ = [
    "MAX_MIRRORLIST_BYTES",
    "Metalink",
    "MirrorUrl",
    "RepomdCopy",
    "looks_like_metalink",
    "parse_metalink",
    "parse_mirrorlist",
]

#: Metalinks and mirrorlists are a few kilobytes; anything this large is not one.
MAX_MIRRORLIST_BYTES: Final = 4 * 1024 * 1024

_NS: Final = "{http://www.metalinker.org/}"
_MM: Final = "{http://fedorahosted.org/mirrormanager}"
_SUFFIX: Final = "/repodata/repomd.xml"
_PROTOCOLS: Final = frozenset({"http", "https", "file"})
#: Hashes strong enough to pin ``repomd.xml``; md5 and sha1 in a metalink are ignored.
_STRONG: Final = ("sha512", "sha384", "sha256", "sha224")


@dataclass(frozen=True, slots=True)
class MirrorUrl:
    """One mirror of ``repomd.xml``; ``baseurl`` is the repository URL it implies."""

    url: str
    protocol: str
    preference: int
    location: str = ""

    @property
    def baseurl(self) -> str:
        """The repository's URL on this mirror (the URL without ``/repodata/repomd.xml``)."""
        return self.url[: -len(_SUFFIX)] if self.url.endswith(_SUFFIX) else self.url


@dataclass(frozen=True, slots=True)
class RepomdCopy:
    """One acceptable ``repomd.xml``: its size (when given) and strong hashes (name → hex)."""

    size: int | None
    hashes: Mapping[str, str]
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class Metalink:
    """A parsed metalink: mirrors best first, and the ``repomd.xml`` copies they may serve."""

    urls: tuple[MirrorUrl, ...]
    copies: tuple[RepomdCopy, ...] = field(default=())

    @property
    def baseurls(self) -> tuple[str, ...]:
        """Repository URLs, best mirror first, duplicates dropped."""
        return tuple(dict.fromkeys(url.baseurl for url in self.urls))

    def verify(self, data: bytes, *, what: str) -> None:
        """Raise unless ``data`` is one of the listed ``repomd.xml`` copies (size and hashes)."""
        sizes = {copy.size for copy in self.copies}
        for copy in self.copies:
            if copy.size is not None and copy.size != len(data):
                continue
            if all(
                hmac.compare_digest(hashlib.new(name, data).hexdigest(), value)
                for name, value in copy.hashes.items()
            ):
                return
        if None not in sizes and len(data) not in sizes:
            listed = ", ".join(str(s) for s in sorted(s for s in sizes if s is not None))
            raise SizeMismatch(
                f"{what}: repomd.xml is {len(data)} bytes, the metalink lists {listed}"
                " (stale or altered mirror)"
            )
        raise DigestMismatch(
            f"{what}: repomd.xml does not match the hashes the metalink lists (stale or altered"
            " mirror)"
        )


def _text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _integer(text: str, what: str) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise RepoError(f"{what}: {text!r} is not a number") from None
    if value < 0:
        raise RepoError(f"{what}: negative number {value}")
    return value


def _copy(element: ET.Element, what: str) -> RepomdCopy | None:
    hashes: dict[str, str] = {}
    verification = element.find(f"{_NS}verification")
    if verification is not None:
        for node in verification.findall(f"{_NS}hash"):
            kind = (node.get("type") or "").lower()
            value = (node.text or "").strip().lower()
            if kind in _STRONG and value:
                hashes[kind] = value
    if not hashes:
        return None
    return RepomdCopy(
        size=_integer(_text(element, f"{_NS}size"), f"{what}: size"),
        hashes=hashes,
        timestamp=_integer(_text(element, f"{_MM}timestamp"), f"{what}: timestamp"),
    )


def looks_like_metalink(data: bytes) -> bool:
    """Whether a mirrorlist response is really a metalink (dnf accepts either)."""
    head = data[:2048].lstrip()
    return head.startswith(b"<?xml") or b"<metalink" in head


def parse_metalink(data: bytes, *, what: str = "metalink") -> Metalink:
    """Parse a metalink; at least one usable mirror and one strongly hashed copy are required."""
    if len(data) > MAX_MIRRORLIST_BYTES:
        raise SizeMismatch(f"{what}: larger than {MAX_MIRRORLIST_BYTES} bytes; refused")
    root = parse_xml(data, what=what, error=RepoError)
    if root.tag != f"{_NS}metalink":
        raise RepoError(f"{what}: not a metalink (root element {root.tag!r})")
    node = None
    for candidate in root.iter(f"{_NS}file"):
        if candidate.get("name") == "repomd.xml":
            node = candidate
            break
    if node is None:
        raise RepoError(f"{what}: lists no repomd.xml")
    copies = []
    main = _copy(node, what)
    if main is not None:
        copies.append(main)
    for alternate in node.iter(f"{_MM}alternate"):
        extra = _copy(alternate, what)
        if extra is not None:
            copies.append(extra)
    if not copies:
        raise RepoError(f"{what}: gives no sha224/256/384/512 hash of repomd.xml to check it by")
    urls = []
    for element in node.iter(f"{_NS}url"):
        url = (element.text or "").strip()
        scheme = urlsplit(url).scheme.lower()
        protocol = (element.get("protocol") or scheme).lower()
        if not url or scheme not in _PROTOCOLS or protocol not in _PROTOCOLS:
            continue  # rsync and ftp mirrors: nothing here speaks them
        preference = _integer(element.get("preference") or "", f"{what}: preference")
        urls.append(
            MirrorUrl(
                url,
                protocol,
                100 if preference is None else preference,
                element.get("location") or "",
            )
        )
    if not urls:
        raise RepoError(f"{what}: lists no http, https or file mirror of repomd.xml")
    urls.sort(key=lambda u: -u.preference)  # stable: equal preferences keep document order
    return Metalink(tuple(urls), tuple(copies))


def parse_mirrorlist(
    data: bytes, *, what: str = "mirrorlist", variables: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Repository URLs of a plain mirrorlist: one per line, ``#`` comments, blank lines skipped.

    Lines may use ``$releasever``-style variables (librepo substitutes them). URLs other
    than http, https and file are dropped; none left is an error.
    """
    if len(data) > MAX_MIRRORLIST_BYTES:
        raise SizeMismatch(f"{what}: larger than {MAX_MIRRORLIST_BYTES} bytes; refused")
    out = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        url = substitute(line, variables or {})
        if urlsplit(url).scheme.lower() in _PROTOCOLS:
            out.append(url.rstrip("/"))
    if not out:
        raise RepoError(f"{what}: lists no http, https or file mirror")
    return tuple(dict.fromkeys(out))
