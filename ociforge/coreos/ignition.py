"""Turn an Ignition config (spec 3.x) into layer content: files, directories, links, systemd units.

Only what can be decided offline is accepted: inline ``data:`` sources (plain or base64, optionally
gzip-compressed, with ``verification.hash``), directories, links and units with their drop-ins.
Enabling a unit creates the links its ``[Install]`` section implies, as ``systemctl enable``
would. Anything that needs the network, the disks or a running system is an
:class:`~ociforge.errors.IgnitionError` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import posixpath
import re
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from ..errors import IgnitionError
from ..ostree.units import (
    install_links,
    instance_of,
    parse_install_section,
    template_of,
    valid_unit_name,
)
from ..tar.header import DIR, LNK, REG, SYM, TarHeader

if TYPE_CHECKING:
    from ..tar.build import LayerBuilder

__all__ = [
    "IgnitionContent",
    "add_ignition_content",
    "ignition_entries",
    "IgnitionDirectory",
    "IgnitionFile",
    "IgnitionLink",
    "parse_ignition",
    "parse_install_section",
]

#: Largest decoded file accepted from one data URL (Ignition configs are small by nature).
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
_UNIT_DIR: Final = "/etc/systemd/system"


@dataclass(frozen=True, slots=True)
class IgnitionFile:
    """A regular file to create."""

    path: str
    data: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class IgnitionDirectory:
    """A directory to create."""

    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class IgnitionLink:
    """A symbolic (or hard) link to create."""

    path: str
    target: str
    hard: bool = False
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class IgnitionContent:
    """Everything an Ignition config asks to put in the image, plus notes for the user."""

    files: tuple[IgnitionFile, ...] = ()
    directories: tuple[IgnitionDirectory, ...] = ()
    links: tuple[IgnitionLink, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def paths(self) -> list[str]:
        """Every path the content creates, sorted."""
        return sorted(
            [f.path for f in self.files]
            + [d.path for d in self.directories]
            + [k.path for k in self.links]
        )


#: Resolves a user or group name of the target image to its numeric id (None when unknown).
NameResolver = Callable[[Literal["user", "group"], str], int | None]
#: Finds a unit file already in the base image: ``(installed path, text)`` or None.
UnitLookup = Callable[[str], tuple[str, str] | None]


def _root_only(kind: Literal["user", "group"], name: str) -> int | None:
    return 0 if name == "root" else None


class _Parser:
    def __init__(self, resolve: NameResolver, lookup: UnitLookup) -> None:
        self.resolve = resolve
        self.lookup = lookup
        self.files: dict[str, IgnitionFile] = {}
        self.directories: dict[str, IgnitionDirectory] = {}
        self.links: dict[str, IgnitionLink] = {}
        self.notes: list[str] = []

    # --- generic field helpers ------------------------------------------------------------

    @staticmethod
    def obj(value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise IgnitionError(f"{where}: must be an object")
        return value

    @staticmethod
    def array(value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise IgnitionError(f"{where}: must be a list")
        return value

    @staticmethod
    def path(value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.startswith("/"):
            raise IgnitionError(f"{where}: must be an absolute path")
        if "\0" in value or ".." in value.split("/"):
            raise IgnitionError(f"{where}: {value!r} must not contain '..' or NUL")
        normal = posixpath.normpath(value)
        if normal == "/":
            raise IgnitionError(f"{where}: cannot replace the root directory")
        return normal

    @staticmethod
    def mode(value: Any, default: int, where: str) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o7777:
            raise IgnitionError(f"{where}: mode must be an integer between 0 and 4095 (0o7777)")
        return value

    def owner(self, node: Mapping[str, Any], where: str) -> tuple[int, int]:
        ids = []
        kinds: tuple[Literal["user", "group"], ...] = ("user", "group")
        for kind in kinds:
            spec = self.obj(node.get(kind), f"{where}.{kind}")
            number, name = spec.get("id"), spec.get("name")
            if number is not None:
                if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                    raise IgnitionError(f"{where}.{kind}.id: must be a non-negative integer")
                ids.append(number)
            elif name is not None:
                resolved = self.resolve(kind, str(name))
                if resolved is None:
                    raise IgnitionError(
                        f"{where}.{kind}.name: {name!r} is not a {kind} of the base image"
                        " (use a numeric id, or create it first)"
                    )
                ids.append(resolved)
            else:
                ids.append(0)
        return ids[0], ids[1]

    # --- sections ---------------------------------------------------------------------------

    def refuse(self, config: Mapping[str, Any]) -> None:
        ignition = self.obj(config.get("ignition"), "ignition")
        version = ignition.get("version")
        if not isinstance(version, str) or not re.fullmatch(
            r"3\.\d+\.\d+(-experimental)?", version
        ):
            raise IgnitionError(f"ignition.version: {version!r} is not a 3.x spec version")
        conf = self.obj(ignition.get("config"), "ignition.config")
        for key in ("merge", "replace"):
            if conf.get(key):
                raise IgnitionError(
                    f"ignition.config.{key}: fetching other configs needs the network"
                )
        passwd = self.obj(config.get("passwd"), "passwd")
        for key in ("users", "groups"):
            if passwd.get(key):
                raise IgnitionError(
                    f"passwd.{key}: users and groups are created on the machine at first boot;"
                    " ship a sysusers.d file instead"
                )
        storage = self.obj(config.get("storage"), "storage")
        for key in ("disks", "raid", "filesystems", "luks"):
            if storage.get(key):
                raise IgnitionError(f"storage.{key}: disks cannot be set up in an image")
        if config.get("kernelArguments"):
            raise IgnitionError(
                "kernelArguments: set kernel arguments through a MachineConfig or bootc kargs.d"
            )
        known = {"ignition", "storage", "systemd", "passwd", "kernelArguments"}
        for key in config:
            if key not in known:
                raise IgnitionError(f"{key}: unknown section")

    def directories_section(self, storage: Mapping[str, Any]) -> None:
        for i, item in enumerate(self.array(storage.get("directories"), "storage.directories")):
            where = f"storage.directories[{i}]"
            node = self.obj(item, where)
            path = self.path(node.get("path"), f"{where}.path")
            uid, gid = self.owner(node, where)
            self.directories[path] = IgnitionDirectory(
                path, self.mode(node.get("mode"), 0o755, f"{where}.mode"), uid, gid
            )

    def files_section(self, storage: Mapping[str, Any]) -> None:
        for i, item in enumerate(self.array(storage.get("files"), "storage.files")):
            where = f"storage.files[{i}]"
            node = self.obj(item, where)
            path = self.path(node.get("path"), f"{where}.path")
            if node.get("append"):
                raise IgnitionError(
                    f"{where}.append: appending to a base-image file is not supported;"
                    " give the whole file"
                )
            contents = self.obj(node.get("contents"), f"{where}.contents")
            data = self.contents(contents, f"{where}.contents")
            uid, gid = self.owner(node, where)
            self.files[path] = IgnitionFile(
                path, data, self.mode(node.get("mode"), 0o644, f"{where}.mode"), uid, gid
            )

    def contents(self, node: Mapping[str, Any], where: str) -> bytes:
        source = node.get("source")
        if source is None:
            return b""
        if not isinstance(source, str):
            raise IgnitionError(f"{where}.source: must be a string")
        if node.get("httpHeaders"):
            raise IgnitionError(f"{where}.httpHeaders: remote sources need the network")
        data = _decode_data_url(source, f"{where}.source")
        compression = node.get("compression")
        if compression == "gzip":
            data = _gunzip(data, f"{where}.compression")
        elif compression not in (None, ""):
            raise IgnitionError(
                f"{where}.compression: {compression!r} is not supported (only gzip)"
            )
        verification = self.obj(node.get("verification"), f"{where}.verification")
        if verification.get("hash") is not None:
            _verify_hash(data, verification["hash"], f"{where}.verification.hash")
        return data

    def links_section(self, storage: Mapping[str, Any]) -> None:
        for i, item in enumerate(self.array(storage.get("links"), "storage.links")):
            where = f"storage.links[{i}]"
            node = self.obj(item, where)
            path = self.path(node.get("path"), f"{where}.path")
            target = node.get("target")
            if not isinstance(target, str) or not target or "\0" in target:
                raise IgnitionError(f"{where}.target: must be a non-empty string")
            hard = bool(node.get("hard", False))
            if hard:
                target = self.path(target, f"{where}.target")
            uid, gid = self.owner(node, where)
            self.links[path] = IgnitionLink(path, target, hard, uid, gid)

    def systemd_section(self, systemd: Mapping[str, Any]) -> None:
        units = self.array(systemd.get("units"), "systemd.units")
        defined: dict[str, str] = {}
        for i, item in enumerate(units):
            where = f"systemd.units[{i}]"
            node = self.obj(item, where)
            name = node.get("name")
            if not isinstance(name, str) or not valid_unit_name(name):
                raise IgnitionError(f"{where}.name: {name!r} is not a valid systemd unit name")
            contents = node.get("contents")
            if node.get("mask"):
                if contents:
                    raise IgnitionError(f"{where}: a masked unit cannot have contents")
                self.links[f"{_UNIT_DIR}/{name}"] = IgnitionLink(f"{_UNIT_DIR}/{name}", "/dev/null")
            elif contents is not None:
                if not isinstance(contents, str):
                    raise IgnitionError(f"{where}.contents: must be a string")
                defined[name] = contents
                self.files[f"{_UNIT_DIR}/{name}"] = IgnitionFile(
                    f"{_UNIT_DIR}/{name}", contents.encode()
                )
            for j, entry in enumerate(self.array(node.get("dropins"), f"{where}.dropins")):
                dwhere = f"{where}.dropins[{j}]"
                dropin = self.obj(entry, dwhere)
                dname = dropin.get("name")
                if not isinstance(dname, str) or "/" in dname or not dname.endswith(".conf"):
                    raise IgnitionError(f"{dwhere}.name: must be a file name ending in .conf")
                text = dropin.get("contents") or ""
                if not isinstance(text, str):
                    raise IgnitionError(f"{dwhere}.contents: must be a string")
                path = f"{_UNIT_DIR}/{name}.d/{dname}"
                self.files[path] = IgnitionFile(path, text.encode())
        for i, node in enumerate(units):
            where = f"systemd.units[{i}]"
            enabled = node.get("enabled")
            if enabled is True:
                self.enable(node["name"], defined, where, set())
            elif enabled is False:
                self.notes.append(
                    f"{where}: enabled=false has no effect in an image"
                    " unless the base enables the unit"
                )

    def enable(self, name: str, defined: Mapping[str, str], where: str, seen: set[str]) -> None:
        if name in seen:
            return
        seen.add(name)
        template = template_of(name)
        found = None
        for candidate in dict.fromkeys([name, template]):
            if candidate in defined:
                found = (defined[candidate], f"{_UNIT_DIR}/{candidate}")
                break
            existing = self.lookup(candidate)
            if existing is not None:
                found = (existing[1], existing[0])
                break
        if found is None:
            raise IgnitionError(
                f"{where}: cannot enable {name}: no contents given"
                " and the base image has no such unit"
            )
        text, unit_path = found
        if instance_of(name) == "" and not parse_install_section(text).get("DefaultInstance"):
            raise IgnitionError(f"{where}: cannot enable template {name} without DefaultInstance=")
        plan = install_links(name, text, unit_path)
        for link, target in plan.links.items():
            self.links[link] = IgnitionLink(link, target)
        self.notes += [f"{where}: {problem}; link not created" for problem in plan.problems]
        for also in plan.also:
            self.enable(also, defined, where, seen)
        if plan.static:
            self.notes.append(f"{where}: {name} has no [Install] section; enabling it does nothing")


def _decode_data_url(source: str, where: str) -> bytes:
    scheme = source.split(":", 1)[0].lower()
    if scheme != "data":
        raise IgnitionError(
            f"{where}: {scheme}: sources need the network; inline the file as a data: URL"
        )
    header, sep, payload = source[5:].partition(",")
    if not sep:
        raise IgnitionError(f"{where}: malformed data URL (no ',')")
    if header.split(";")[-1].lower() == "base64":
        try:
            data = base64.b64decode(urllib.parse.unquote(payload), validate=True)
        except (binascii.Error, ValueError):
            raise IgnitionError(f"{where}: invalid base64 in data URL") from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    if len(data) > MAX_FILE_BYTES:
        raise IgnitionError(f"{where}: data URL larger than {MAX_FILE_BYTES} bytes")
    return data


def _gunzip(data: bytes, where: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as reader:
            out = reader.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise IgnitionError(f"{where}: contents are not valid gzip ({exc})") from None
    if len(out) > MAX_FILE_BYTES:
        raise IgnitionError(f"{where}: decompressed contents larger than {MAX_FILE_BYTES} bytes")
    return out


def _verify_hash(data: bytes, spec: Any, where: str) -> None:
    if not isinstance(spec, str) or "-" not in spec:
        raise IgnitionError(f"{where}: must look like sha512-<hex> or sha256-<hex>")
    algorithm, expected = spec.split("-", 1)
    if algorithm not in ("sha256", "sha512"):
        raise IgnitionError(f"{where}: unsupported hash type {algorithm!r}")
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != expected.lower():
        raise IgnitionError(f"{where}: contents hash to {algorithm}-{actual}, expected {expected}")


def parse_ignition(
    raw: bytes,
    *,
    resolve: NameResolver = _root_only,
    lookup_unit: UnitLookup = lambda name: None,
) -> IgnitionContent:
    """Parse an Ignition config and return the content it would create.

    ``resolve`` maps user/group names to ids in the target image; ``lookup_unit`` finds unit
    files the base image already has (so they can be enabled without repeating them).
    """
    try:
        config = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise IgnitionError(f"not a JSON Ignition config: {exc}") from None
    if not isinstance(config, dict):
        raise IgnitionError("an Ignition config must be a JSON object")
    parser = _Parser(resolve, lookup_unit)
    parser.refuse(config)
    storage = parser.obj(config.get("storage"), "storage")
    parser.directories_section(storage)
    parser.files_section(storage)
    parser.links_section(storage)
    parser.systemd_section(parser.obj(config.get("systemd"), "systemd"))
    return IgnitionContent(
        files=tuple(parser.files[p] for p in sorted(parser.files)),
        directories=tuple(parser.directories[p] for p in sorted(parser.directories)),
        links=tuple(parser.links[p] for p in sorted(parser.links)),
        notes=tuple(parser.notes),
    )


def ignition_entries(content: IgnitionContent) -> Iterator[tuple[TarHeader, bytes | None]]:
    """Tar entries for everything ``content`` creates: directories, files, then links."""
    for directory in content.directories:
        name = directory.path.lstrip("/")
        yield TarHeader(name, DIR, mode=directory.mode, uid=directory.uid, gid=directory.gid), None
    for item in content.files:
        header = TarHeader(item.path.lstrip("/"), REG, mode=item.mode, uid=item.uid, gid=item.gid)
        yield header.evolve(size=len(item.data)), item.data
    for link in content.links:
        name = link.path.lstrip("/")
        if link.hard:
            yield TarHeader(name, LNK, mode=0o644, linkname=link.target.lstrip("/")), None
        else:
            header = TarHeader(name, SYM, mode=0o777, uid=link.uid, gid=link.gid)
            yield header.evolve(linkname=link.target), None


def add_ignition_content(builder: LayerBuilder, content: IgnitionContent) -> None:
    """Add everything ``content`` creates to a layer being built (later entries replace)."""
    for header, data in ignition_entries(content):
        builder.add_entry(header, data, replace=not header.is_dir)
