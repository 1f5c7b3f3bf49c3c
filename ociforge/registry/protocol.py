"""The distribution API without I/O: build requests, read response headers and error bodies.

Nothing here opens a socket. Requests are values; responses arrive as a status, headers and
(bounded) bytes; the answers are values or :mod:`ociforge.errors` exceptions. Every URL is
built from validated parts (a :class:`~ociforge.registry.reference.RegistryReference`
repository, a :class:`~ociforge.digest.Digest`), and every URL a registry hands back is checked
to stay on the registry before it is used.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import InvalidDigest, RegistryError

__all__ = [
    "MAX_ERROR_BYTES",
    "ErrorDetail",
    "Request",
    "blob_request",
    "chunk_min_length",
    "content_digest",
    "describe_error",
    "manifest_delete",
    "manifest_put",
    "manifest_request",
    "media_type_of",
    "next_page",
    "origin",
    "parse_content_range",
    "parse_errors",
    "parse_retry_after",
    "parse_tags",
    "parse_upload_offset",
    "ping_request",
    "resolve_location",
    "tags_request",
    "upload_chunk",
    "upload_finish",
    "upload_start",
    "upload_status",
]

#: Error bodies are read up to this size; a longer one is cut, never buffered whole.
MAX_ERROR_BYTES: Final = 64 * 1024

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_OCTETS: Final = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request to make: method, absolute URL and headers (the body travels apart)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)


def _url(base: str, *parts: str, query: Mapping[str, str] | None = None) -> str:
    # ``base`` ends in "/v2/"; parts are validated names, digests and tags, safe in a path.
    url = base + "/".join(parts)
    return f"{url}?{urlencode(query)}" if query else url


def ping_request(base: str) -> Request:
    """``GET /v2/``: asks whether this is a registry and which authentication it wants."""
    return Request("GET", base)


def manifest_request(method: str, base: str, repository: str, reference: str) -> Request:
    """``GET`` or ``HEAD`` a manifest by tag or digest, accepting every manifest kind we read."""
    return Request(
        method, _url(base, repository, "manifests", reference), {"Accept": mt.MANIFEST_ACCEPT}
    )


def manifest_put(base: str, repository: str, reference: str, media_type: str) -> Request:
    """``PUT`` a manifest's exact bytes under a tag or digest."""
    return Request(
        "PUT", _url(base, repository, "manifests", reference), {"Content-Type": media_type}
    )


def tags_request(base: str, repository: str, *, last: str = "", count: int = 1000) -> Request:
    """``GET /tags/list``, a page of ``count`` tags after ``last``."""
    query = {"n": str(count), **({"last": last} if last else {})}
    return Request("GET", _url(base, repository, "tags", "list", query=query))


def next_page(request_url: str, link: str | None, *, what: str) -> str | None:
    """The URL a ``Link: <URL>; rel="next"`` header names (checked to stay on the registry)."""
    if not link:
        return None
    for part in link.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            url = target.strip().removeprefix("<").removesuffix(">")
            return resolve_location(request_url, url, what=what)
    return None


def parse_tags(body: bytes, *, what: str) -> list[str]:
    """The ``tags`` of a ``/tags/list`` answer (``null`` for a repository without any)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RegistryError(f"{what}: the registry sent a tag list that is not JSON") from None
    tags = document.get("tags") if isinstance(document, dict) else None
    if tags is None and isinstance(document, dict):
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistryError(f"{what}: the registry sent a malformed tag list")
    return tags


def manifest_delete(base: str, repository: str, digest: Digest) -> Request:
    """``DELETE`` a manifest by digest (every tag naming it goes with it)."""
    return Request("DELETE", _url(base, repository, "manifests", str(digest)))


def blob_request(
    method: str, base: str, repository: str, digest: Digest, *, offset: int = 0
) -> Request:
    """``GET`` or ``HEAD`` a blob; ``offset`` asks for the rest from there (a resumed read)."""
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return Request(method, _url(base, repository, "blobs", str(digest)), headers)


def upload_start(
    base: str, repository: str, *, mount: Digest | None = None, source: str = ""
) -> Request:
    """``POST`` a new upload session, or a cross-repository mount of ``mount`` from ``source``.

    The body is empty on purpose: authentication completes here, before any blob bytes are
    sent in a request that could not be repeated.
    """
    query = {"mount": str(mount), "from": source} if mount is not None and source else None
    return Request(
        "POST", _url(base, repository, "blobs", "uploads", "", query=query), {"Content-Length": "0"}
    )


def upload_status(location: str) -> Request:
    """``GET`` an upload session: how many bytes the registry holds (its ``Range`` header)."""
    return Request("GET", location)


def upload_chunk(location: str, start: int, length: int) -> Request:
    """``PATCH`` ``length`` bytes at ``start`` into an upload session."""
    return Request(
        "PATCH",
        location,
        {
            "Content-Type": _OCTETS,
            "Content-Range": f"{start}-{start + length - 1}",
            "Content-Length": str(length),
        },
    )


def upload_finish(location: str, digest: Digest, length: int) -> Request:
    """``PUT ?digest=``: close an upload, sending its last ``length`` bytes (possibly none)."""
    parts = urlsplit(location)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("digest", str(digest))]
    url = urlunsplit(parts._replace(query=urlencode(query)))
    return Request("PUT", url, {"Content-Type": _OCTETS, "Content-Length": str(length)})


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port


def resolve_location(request_url: str, location: str | None, *, what: str) -> str:
    """The absolute URL a ``Location`` header names, refused unless it stays on the registry.

    A registry decides where upload bytes go next; without this check a hostile one could point
    them (and the credentials sent with them) at another host, or downgrade https to http.
    """
    if not location:
        raise RegistryError(f"{what}: the registry sent no Location for the upload")
    resolved = urljoin(request_url, location)
    parts = urlsplit(resolved)
    if parts.username or parts.password or parts.fragment:
        raise RegistryError(f"{what}: refused the upload location {location!r}")
    if origin(resolved) != origin(request_url):
        scheme, host, port = origin(resolved)
        raise RegistryError(
            f"{what}: the registry sent an upload location on {scheme}://{host}:{port},"
            " not on the registry itself; refused"
        )
    return resolved


def parse_upload_offset(value: str | None) -> int:
    """The next byte to send, from an upload's ``Range: 0-LAST`` header.

    distribution answers ``0-0`` for an empty session as well as for one holding a byte, so
    ``0-0`` counts as empty: re-sending one byte is safe, skipping one is not.
    """
    if not value:
        return 0
    text = value.strip()
    if text.startswith("bytes="):
        text = text[len("bytes=") :]
    start, sep, last = text.partition("-")
    if not sep or not start.isdigit() or not last.isdigit() or int(start) != 0:
        raise RegistryError(f"registry sent a malformed upload Range {value!r}")
    end = int(last)
    return 0 if end == 0 else end + 1


def parse_content_range(value: str | None) -> tuple[int, int, int | None]:
    """``(first, last, total)`` of a ``Content-Range: bytes FIRST-LAST/TOTAL`` header."""
    text = (value or "").strip()
    unit, _, spec = text.partition(" ")
    span, _, total = spec.partition("/")
    first, sep, last = span.partition("-")
    if unit != "bytes" or not sep or not first.isdigit() or not last.isdigit():
        raise RegistryError(f"registry sent a malformed Content-Range {value!r}")
    if total != "*" and not total.isdigit():
        raise RegistryError(f"registry sent a malformed Content-Range {value!r}")
    return int(first), int(last), None if total == "*" else int(total)


def chunk_min_length(headers: Mapping[str, str]) -> int:
    """``OCI-Chunk-Min-Length``: the smallest chunk (but the last) a registry accepts."""
    value = headers.get("OCI-Chunk-Min-Length", "").strip()
    return int(value) if value.isdigit() else 0


def content_digest(headers: Mapping[str, str], *, what: str) -> Digest | None:
    """The ``Docker-Content-Digest`` header, validated; ``None`` when absent."""
    value = headers.get("Docker-Content-Digest", "").strip()
    if not value:
        return None
    try:
        return Digest.parse(value)
    except InvalidDigest as exc:
        raise RegistryError(
            f"{what}: registry sent an invalid Docker-Content-Digest: {exc}"
        ) from None


def media_type_of(headers: Mapping[str, str]) -> str:
    """The ``Content-Type`` without parameters."""
    return headers.get("Content-Type", "").split(";", 1)[0].strip()


def parse_retry_after(value: str | None, *, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); 0 if none."""
    if not value:
        return 0.0
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0.0
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of a distribution error body: ``{"code", "message", "detail"}``."""

    code: str
    message: str


def _text(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def parse_errors(body: bytes) -> tuple[ErrorDetail, ...]:
    """The entries of a distribution error body (``{"errors": [...]}``); empty if it is not one.

    Token servers answer ``{"error": ..., "error_description": ...}`` or ``{"details": ...}``;
    those are read too.
    """
    try:
        document = json.loads(body[:MAX_ERROR_BYTES])
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ()
    if not isinstance(document, dict):
        return ()
    entries = document.get("errors")
    if isinstance(entries, list):
        out = []
        for entry in entries:
            if isinstance(entry, dict):
                code = _text(entry.get("code"))
                message = _text(entry.get("message"))
                if code or message:
                    out.append(ErrorDetail(code, message))
        return tuple(out)
    code = _text(document.get("error"))
    message = _text(document.get("error_description")) or _text(document.get("details"))
    return (ErrorDetail(code, message),) if code or message else ()


def _plain_body(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace")
    if text.lstrip().startswith("<"):
        return ""  # an HTML error page says nothing a person can use in one line
    return " ".join(text.split())


def describe_error(status: int, reason: str, body: bytes) -> tuple[str, str]:
    """``(code, line)``: the first error code and one line saying what the registry answered.

    Codes print as distribution's clients print them (``DENIED`` → ``denied: …``); without an
    error body the HTTP status and a short plain-text body serve instead.
    """
    details = parse_errors(body)
    if details:
        parts = []
        for detail in details[:3]:
            label = detail.code.lower().replace("_", " ")
            if detail.message.lower().rstrip(".") == label:
                # distribution's messages often repeat the code ("manifest unknown").
                part = label
            elif label and detail.message:
                part = f"{label}: {detail.message}"
            else:
                part = label or detail.message
            if part not in parts:
                parts.append(part)
        return details[0].code, "; ".join(parts)
    text = _plain_body(body)
    line = f"HTTP {status} {reason}".rstrip()
    return "", f"{line}: {text}" if text else line
