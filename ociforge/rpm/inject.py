"""Install RPM packages into a new layer over a base image, the way rpm-ostree would.

The recipe: read and check every package first (headers, digests, signatures, kernel
policy), translate their scriptlets, resolve owners against the base's accounts (creating the
ones packages declare), lay each package's files out (:mod:`.install`), apply what the
scriptlets asked for (:mod:`.effects`: presets, alternatives), white out what replaced and
erased packages leave behind (:mod:`.erase`), and write the updated rpmdb, ``tmpfiles.d`` and
``sysusers.d`` fragments and account files. Nothing is published unless all of it succeeds:
the caller commits the layer only after :func:`inject_rpms` returns.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Final, Protocol

from .._env import build_time
from ..errors import NotFound, PolicyError, UnsupportedError
from ..ostree.accounts import GROUP_FILES, PASSWD_FILES, SysusersEntry, decode_sysusers_provide
from ..ostree.view import FlatTreeReader, LayeredTree, MemoryTree
from ..streams import Opener, Readable
from ..tar.flatten import FlatTree
from ..tar.header import TarHeader
from ..tar.tree import normalize
from .effects import scriptlet_effects
from .erase import plan_erase
from .files import file_list
from .install import CAPTURED, PackageWriter
from .installed import InstallInfo, installed_header, transaction_color
from .kernel import kernel_reason
from .package import RpmPackage, read_package
from .rpmdb import DB_DIRECTORIES, InstalledPackage, Rpmdb, db_byteorder
from .scriptlets import ScriptletPlan, plan_scriptlets
from .signature import PublicKey
from .tags import FileState, Tag

__all__ = [
    "BASE_FILES",
    "EntrySink",
    "InjectOptions",
    "InjectReport",
    "OpenedPackage",
    "RpmSource",
    "find_rpmdb",
    "inject_rpms",
]

#: Files of the base image the recipe reads (see :func:`~ociforge.tar.flatten.flatten_image`).
BASE_FILES: Final = (
    *PASSWD_FILES,
    *GROUP_FILES,
    "/etc/shadow",
    "/etc/gshadow",
    *(f"{d}/rpmdb.sqlite" for d in DB_DIRECTORIES),
    *(f"{d}/Packages" for d in DB_DIRECTORIES),
    "/usr/share/rpm/*",
    "/usr/lib/sysimage/rpm/*",
    *(f"{directory}/*" for directory in CAPTURED),
)


@dataclass(frozen=True, slots=True)
class OpenedPackage:
    """A package whose headers were already read and checked, and an opener of its payload.

    For callers that read the headers themselves (to resolve dependencies, to verify a
    download's signature): the package is then opened only once more, for the payload.
    """

    package: RpmPackage
    open_payload: Opener  # a reader positioned at the payload


#: A package to install: a local path, a name for messages and an opener of its bytes, or a
#: package already read.
RpmSource = str | os.PathLike[str] | tuple[str, Opener] | OpenedPackage


class EntrySink(Protocol):
    """Where the entries go: :class:`~ociforge.tar.build.LayerBuilder` has this shape."""

    def add_entry(
        self, header: TarHeader, data: bytes | Readable | None = None, *, clamp_mtime: bool = True
    ) -> None:
        """Add one member (relative name); a file's data is exactly ``header.size`` bytes."""
        ...

    def add_whiteout(self, image_path: str) -> None:
        """Delete ``image_path`` from the layers below."""
        ...


@dataclass(frozen=True, slots=True)
class InjectOptions:
    """Policy switches (the CLI's ``--require-signatures``, ``--skip-scriptlets``…)."""

    keys: Sequence[PublicKey] = ()
    require_signatures: bool = False
    skip_scriptlets: bool = False
    allow_kernel: bool = False
    unknown_owner_root: bool = False
    install_time: int | None = None


@dataclass(slots=True)
class InjectReport:
    """What was done: packages, replacements, translations, skipped scriptlets, accounts."""

    packages: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The small files the layer ships under the systemd and alternatives directories.
    tree: MemoryTree = field(default_factory=MemoryTree)


@dataclass(slots=True)
class Plan:
    """One package of the transaction: its headers, its open payload, what it turns into."""

    package: RpmPackage
    stream: IO[bytes]  # positioned at the payload
    scripts: ScriptletPlan | None = None
    accounts: list[SysusersEntry] = field(default_factory=list)
    tmpfiles: list[str] = field(default_factory=list)
    states: list[FileState] = field(default_factory=list)


def _install_time(options: InjectOptions) -> int:
    if options.install_time is not None:
        return options.install_time
    return int(build_time().timestamp())


def _open(source: str | os.PathLike[str] | tuple[str, Opener]) -> tuple[str, IO[bytes]]:
    if isinstance(source, tuple):
        name, opener = source
        return name, opener()
    path = os.fspath(source)
    return path, open(path, "rb")


def _open_packages(
    sources: Sequence[RpmSource], options: InjectOptions, stack: contextlib.ExitStack
) -> list[Plan]:
    """Read and check every package's headers; each stays open, positioned at its payload."""
    plans = []
    for source in sources:
        if isinstance(source, OpenedPackage):
            package, stream = source.package, source.open_payload()
            stack.callback(stream.close)
        else:
            path, stream = _open(source)
            stack.callback(stream.close)
            package = read_package(
                stream, what=path, keys=options.keys, require_signatures=options.require_signatures
            )
        path = package.what
        reason = kernel_reason(package)
        if reason and not options.allow_kernel:
            raise PolicyError(
                f"{path}: {package.nevra} is a kernel package ({reason}); its initramfs must be"
                " regenerated by dracut, which cannot run here, so the image would boot the old"
                " initramfs; pass --allow-kernel to install it anyway"
            )
        plans.append(Plan(package, stream))
    return plans


def _plan_scriptlets(plan: Plan, *, upgrade: bool, options: InjectOptions) -> None:
    """Translate the package's scriptlets (``$1`` is 2 when it replaces an installed one)."""
    package = plan.package
    scripts = plan_scriptlets(
        package.header,
        package=package.nevra,
        skip=options.skip_scriptlets,
        instances=2 if upgrade else 1,
    )
    plan.scripts = scripts
    plan.accounts = list(scripts.accounts)
    plan.tmpfiles = list(scripts.tmpfiles)
    provides = package.header.strings(Tag.PROVIDENAME)
    versions = package.header.strings(Tag.PROVIDEVERSION)
    for name, version in zip(provides, versions, strict=False):
        entry = decode_sysusers_provide(name, version, what=package.what)
        if entry is not None:
            plan.accounts.append(entry)


def find_rpmdb(base: FlatTree) -> tuple[str, bytes | None]:
    """The directory of the image's rpmdb (symlinks resolved) and its ``rpmdb.sqlite``, if any."""
    for directory in DB_DIRECTORIES:
        real = base.resolve(directory)
        entry = base.entry(real)
        if entry is None or entry.kind != "dir":
            continue
        data = base.read(f"{real}/rpmdb.sqlite")
        if data is not None:
            return real, data
        if base.entry(f"{real}/Packages") is not None:
            raise UnsupportedError(
                f"base image: {real}/Packages is a Berkeley DB rpmdb (RHEL 8 and older), which"
                " is not supported; only sqlite rpmdbs (Fedora 33+, RHEL 9+) are"
            )
    return DB_DIRECTORIES[0], None


def _replaces(new: RpmPackage, installed: InstalledPackage) -> bool:
    """Whether installing ``new`` replaces ``installed``, as ``rpm -U`` would.

    The same name on the same architecture (noarch replaces and is replaced by any): a
    multilib sibling (``glibc.i686`` beside ``glibc.x86_64``) stays.
    """
    if new.name != installed.name:
        return False
    arch = installed.header.string(Tag.ARCH, "") or ""
    return new.arch == arch or "noarch" in (new.arch, arch)


def _erased(installed: Sequence[InstalledPackage], erase: Sequence[str]) -> list[InstalledPackage]:
    """The installed packages ``erase`` names (by name or NEVRA); an unknown one is an error."""
    chosen: dict[int, InstalledPackage] = {}
    for spec in erase:
        found = [p for p in installed if spec in (p.name, p.nevra)]
        if not found:
            raise NotFound(f"--remove {spec}: no such package is installed in the base image")
        chosen.update((p.hnum, p) for p in found)
    return list(chosen.values())


def _unrun_triggers(triggers: list[tuple[str, str, str]], paths: set[str]) -> list[str]:
    """Installed packages' file triggers that the new files would have fired in rpm."""
    notes = []
    for package, kind, prefix in triggers:
        hits = sorted(p for p in paths if p.startswith(prefix))
        if hits:
            notes.append(f"{package}: {kind} on {prefix} NOT RUN (fired by {hits[0]})")
    return notes


def _account_files(base: FlatTree, passwd: list[str], group: list[str]) -> dict[str, bytes]:
    """The account files with new entries appended (shadow files only if the base has them)."""
    out = {}
    for path, lines, template in (
        ("/etc/passwd", passwd, ""),
        ("/etc/group", group, ""),
        ("/etc/shadow", passwd, "{}:!!:::::::"),
        ("/etc/gshadow", group, "{}:!::"),
    ):
        current = base.read(path)
        if not lines or (template and current is None):
            continue
        if current is None:  # no account file at all: start one with root, as shadow-utils has
            current = (
                b"root:x:0:0:root:/root:/bin/bash\n" if path == "/etc/passwd" else b"root:x:0:\n"
            )
        text = (current or b"").decode("utf-8", "surrogateescape")
        if text and not text.endswith("\n"):
            text += "\n"
        for line in lines:
            text += (template.format(line.split(":", 1)[0]) if template else line) + "\n"
        out[path] = text.encode("utf-8", "surrogateescape")
    return out


def inject_rpms(
    base: FlatTree,
    rpms: Sequence[RpmSource],
    sink: EntrySink,
    *,
    erase: Sequence[str] = (),
    options: InjectOptions | None = None,
    architecture: str = "x86_64",
) -> InjectReport:
    """Add ``rpms`` to ``sink`` as one layer over ``base``, erasing ``erase``; say what was done.

    An installed package of the same name and architecture as a new one is replaced (up- or
    downgrade, as ``rpm -U`` and ``override replace``); ``erase`` names installed packages
    (by name or NEVRA) to remove, as ``rpm -e`` does (:mod:`.erase`). Scriptlets are
    translated (:mod:`.scriptlets`) and their effects applied over the base with the new
    files on top (:mod:`.effects`: presets, alternatives). Dependencies are not checked
    here: :mod:`ociforge.transaction` decides what may be installed and erased.

    Each package is opened once: its headers are read and checked first (all of them, before
    anything is written), its payload streamed later. Raises before writing anything when a
    package fails its checks or the policy; payload digests are verified while streaming, so
    the sink must be discarded if this raises.
    """
    with contextlib.ExitStack() as stack:
        plans = _open_packages(rpms, options or InjectOptions(), stack)
        return _Transaction(base, plans, sink, options or InjectOptions(), architecture).run(erase)


class _Transaction:
    """The packages of one append going into one layer, and the rpmdb that records them."""

    def __init__(
        self,
        base: FlatTree,
        plans: list[Plan],
        sink: EntrySink,
        options: InjectOptions,
        architecture: str,
    ) -> None:
        names = [(p.package.name, p.package.arch) for p in plans]
        if len(set(names)) != len(names):
            raise PolicyError("the same package is given twice")
        self.base = base
        self.plans = plans
        self.sink = sink
        self.options = options
        self.architecture = architecture
        self.report = InjectReport()
        self.writer = PackageWriter(base, sink, options, self.report)

    def run(self, erase: Sequence[str]) -> InjectReport:
        report, writer = self.report, self.writer
        db_dir, db_bytes = find_rpmdb(self.base)
        order = db_byteorder(self.architecture)
        with Rpmdb(db_bytes, what=f"base image {db_dir}/rpmdb.sqlite", byteorder=order) as db:
            installed = db.packages()
            erased = _erased(installed, erase)
            gone_ids = {p.hnum for p in erased}
            replaced = [
                p
                for p in installed
                if p.hnum not in gone_ids and any(_replaces(q.package, p) for q in self.plans)
            ]
            gone_ids.update(p.hnum for p in replaced)
            for plan in self.plans:
                upgrade = any(_replaces(plan.package, p) for p in replaced)
                _plan_scriptlets(plan, upgrade=upgrade, options=self.options)
            owned_elsewhere = {f.path for plan in self.plans for f in plan.package.files}
            for pkg in installed:
                if pkg.hnum not in gone_ids:
                    owned_elsewhere.update(normalize(f.path) for f in file_list(pkg.header))
            self._accounts_and_files()
            new_paths = set(writer.placed)
            report.notes.extend(_unrun_triggers(_triggers(installed), new_paths))
            self._erase([*replaced, *erased], owned_elsewhere, new_paths)
            for old in replaced:
                report.replaced.append(old.nevra)
                db.remove(old.hnum)
            for old in erased:
                report.removed.append(old.nevra)
                db.remove(old.hnum)
            when = _install_time(self.options)
            color = transaction_color(self.architecture)
            for plan in self.plans:
                db.add(installed_header(plan.package, InstallInfo(when, when, color, plan.states)))
            writer.write_bytes(f"{db_dir}/rpmdb.sqlite", db.finish())
        report.tree = writer.tree
        return report

    def _accounts_and_files(self) -> None:
        """Accounts first (files are owned by them), then every package's files and effects."""
        report, writer = self.report, self.writer
        passwd: list[str] = []
        group: list[str] = []
        sysusers: dict[str, tuple[str, ...]] = {}
        for plan in self.plans:
            created = writer.accounts.create(plan.accounts, source=plan.package.nevra)
            report.notes.extend(created.report)
            passwd += created.passwd
            group += created.group
            if created.sysusers:
                sysusers[plan.package.name] = created.sysusers
        for plan in self.plans:
            writer.install(plan)
            package = plan.package
            report.packages.append(package.nevra)
            report.notes.extend(f"{package.nevra}: {note}" for note in package.notes)
            if package.signer:
                report.notes.append(f"{package.nevra}: signature OK ({package.signer})")
            if plan.scripts is not None:
                report.notes.extend(plan.scripts.report)
        effects = scriptlet_effects(
            [(p.package.nevra, p.scripts) for p in self.plans if p.scripts is not None],
            tree=LayeredTree(writer.tree, FlatTreeReader(self.base)),
        )
        report.notes.extend(effects.notes)
        for path, target in effects.links.items():
            writer.add_symlink(path, target)
        for path, data in effects.files.items():
            writer.write_bytes(path, data)
        for path in effects.remove:
            if path not in writer.placed:
                self.sink.add_whiteout(path)
        fragments = [(p.package.name, p.tmpfiles) for p in self.plans]
        for name, lines in [*fragments, ("alternatives", list(effects.tmpfiles))]:
            if lines:
                text = "".join(line + "\n" for line in dict.fromkeys(lines))
                writer.write_bytes(f"/usr/lib/tmpfiles.d/ociforge-{name}.conf", text)
        for name, entries in sysusers.items():
            text = "".join(line + "\n" for line in entries)
            writer.write_bytes(f"/usr/lib/sysusers.d/ociforge-{name}.conf", text)
        for path, data in _account_files(self.base, passwd, group).items():
            writer.write_bytes(path, data, mode=0 if "shadow" in path else 0o644)

    def _erase(
        self, gone: Sequence[InstalledPackage], owned_elsewhere: set[str], new_paths: set[str]
    ) -> None:
        plan = plan_erase(
            gone, tree=self.base, owned_elsewhere=owned_elsewhere, new_paths=new_paths
        )
        for path, saved in plan.saved:
            self.writer.keep_as(path, saved)
        for path in plan.whiteouts:
            self.sink.add_whiteout(path)
        self.report.notes.extend(plan.notes)
        self.report.notes.extend(f"{path} removed (whiteout)" for path in plan.whiteouts)


def _triggers(installed: Sequence[InstalledPackage]) -> list[tuple[str, str, str]]:
    """(package, kind, path prefix) of every file trigger the installed packages carry."""
    found: list[tuple[str, str, str]] = []
    for pkg in installed:
        for kind, tag in (("%filetriggerin", Tag.FILETRIGGERNAME),
                          ("%transfiletriggerin", Tag.TRANSFILETRIGGERNAME)):  # fmt: skip
            found.extend((pkg.nevra, kind, prefix) for prefix in pkg.header.strings(tag))
    return found
