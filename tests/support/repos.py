"""Real rpm-md repositories for the tests: a dependency graph built with rpmbuild, indexed with
createrepo_c, signed with rpmsign/gpg, served over loopback HTTP(S) from a thread.

The graph (every edge is something the resolver must get right, and dnf is asked the same):

* base image (installed with rpm into a CoreOS-shaped root): ``basepkg`` (provides
  ``basecap``, owns ``/usr/share/base/shared.conf``), ``libold``, ``victim`` (provides
  ``victimcap``) and ``dependent`` (requires ``victimcap``);
* ``main`` repository: ``agent`` requires ``libfoo >= 1.5`` (1.0/2.0/3.0 exist), the file
  ``/usr/libexec/agent-helper`` (only in filelists), the rich ``(libbar if basepkg)``, the
  already-satisfied ``basecap`` and the noarch ``agent-data``, and recommends
  ``agent-extras``; ``tool`` requires ``libfoo >= 1.5`` and ``libfoo < 3``; ``unrelated``
  conflicts with ``basepkg``; ``libnew`` obsoletes ``libold < 2``; ``mta-a`` and ``mta-b``
  both provide ``mta``, which ``mailer`` requires; ``libmulti`` for x86_64 and i686 share
  ``/usr/bin/multi`` as 64- and 32-bit ELF (file colours); ``clash`` ships basepkg's file with
  other content; ``needs-missing`` requires what nothing provides; ``basepkg-2.0`` updates the
  base; ``needs-victim`` requires ``victimcap``;
* ``extra`` repository: ``libfoo-2.5`` (for priorities);
* ``signed`` repository: ``agent-data`` signed by a throwaway RSA key, ``unsigned`` not;
* local files: ``localpkg`` (requires ``libbar``) and ``basepkg-0.9`` (a downgrade).

createrepo_c 0.17.3 as Debian builds it has no zstd ("Unknown/Unsupported compression type",
measured), so the zstd variant is made by recompressing its gzip output with the ``zstd``
tool and rewriting ``repomd.xml``'s checksums and sizes here, with hashlib.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import os
import shutil
import ssl
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import pki, rpmroot, rpms
from tests.support.tools import need, run

_ELF32 = (
    "python3 -c \"import struct,sys; open(sys.argv[1],'wb').write(b'\\x7fELF\\x01\\x01\\x01'"
    " + bytes(9) + struct.pack('<HHIIIIIHHHHHH', 2, 3, 1, 0x8048000, 52, 0, 0, 52, 32, 0, 40,"
    ' 0, 0))"'
)


@dataclass(frozen=True)
class Pkg:
    """A test package: dependencies and files; ``files`` maps paths to contents."""

    name: str
    version: str = "1.0"
    release: str = "1"
    arch: str = "x86_64"
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    #: Extra %install lines and %files lines (for ELF files, modes, directories).
    install: str = ""
    listing: str = ""

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"

    def spec(self) -> rpms.Spec:
        lines = ["AutoReqProv: no"]
        for tag, values in (
            ("Requires", self.requires),
            ("Provides", self.provides),
            ("Conflicts", self.conflicts),
            ("Obsoletes", self.obsoletes),
            ("Recommends", self.recommends),
        ):
            lines += [f"{tag}: {value}" for value in values]
        install = []
        listing = []
        for path, content in self.files:
            install.append(f"mkdir -p %{{buildroot}}{os.path.dirname(path)}")
            install.append(f"printf '%s' '{content}' > %{{buildroot}}{path}")
            listing.append(path)
        if self.install:
            install.append(self.install)
        if self.listing:
            listing.append(self.listing)
        return rpms.Spec(
            name=self.name,
            version=self.version,
            release=self.release,
            preamble="\n".join(lines),
            install="\n".join(install),
            files="\n".join(listing),
            arch="noarch" if self.arch == "noarch" else "x86_64",
        )


def _file(path: str, content: str | None = None) -> tuple[str, str]:
    return (path, content if content is not None else f"{path}\\n")


BASE = (
    Pkg(
        "basepkg",
        provides=("basecap",),
        files=(_file("/usr/share/base/shared.conf", "base 1\\n"), _file("/usr/bin/basetool")),
    ),
    Pkg("libold", files=(_file("/usr/share/libold/data"),)),
    Pkg("victim", provides=("victimcap",), files=(_file("/usr/share/victim/v"),)),
    Pkg("dependent", requires=("victimcap",), files=(_file("/usr/share/dependent/d"),)),
)

MAIN = (
    Pkg(
        "agent",
        requires=(
            "libfoo >= 1.5",
            "/usr/libexec/agent-helper",
            "(libbar if basepkg)",
            "basecap",
            "agent-data",
        ),
        recommends=("agent-extras",),
        files=(_file("/usr/bin/agent"),),
    ),
    Pkg(
        "agent-data",
        arch="noarch",
        files=(_file("/usr/share/agent/data"),),
        # Incompressible, so the package is large enough to be cut mid-download.
        install="head -c 300000 /dev/urandom > %{buildroot}/usr/share/agent/random",
        listing="/usr/share/agent/random",
    ),
    Pkg("agent-extras", files=(_file("/usr/share/agent/extras"),)),
    Pkg("libfoo", "1.0", files=(_file("/usr/share/libfoo/version", "1.0\\n"),)),
    Pkg("libfoo", "2.0", files=(_file("/usr/share/libfoo/version", "2.0\\n"),)),
    Pkg("libfoo", "3.0", files=(_file("/usr/share/libfoo/version", "3.0\\n"),)),
    Pkg("tool", requires=("libfoo >= 1.5", "libfoo < 3"), files=(_file("/usr/bin/tool"),)),
    Pkg("helper", files=(_file("/usr/libexec/agent-helper"),)),
    Pkg("libbar", files=(_file("/usr/share/libbar/bar"),)),
    Pkg("unrelated", conflicts=("basepkg",), files=(_file("/usr/share/unrelated/u"),)),
    Pkg(
        "libnew",
        "2.0",
        obsoletes=("libold < 2",),
        provides=("libold = 2.0-1",),
        files=(_file("/usr/share/libnew/data"),),
    ),
    Pkg("mta-a", provides=("mta",), files=(_file("/usr/share/mta-a/a"),)),
    Pkg("mta-b", provides=("mta",), files=(_file("/usr/share/mta-b/b"),)),
    Pkg("mailer", requires=("mta",), files=(_file("/usr/share/mailer/m"),)),
    Pkg(
        "libmulti",
        files=(_file("/usr/share/doc/libmulti/README", "same\\n"),),
        install=(
            "mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib64\n"
            "cp /bin/true %{buildroot}/usr/bin/multi\n"
            "echo 64 > %{buildroot}/usr/lib64/libmulti.so"
        ),
        listing="/usr/bin/multi\n/usr/lib64/libmulti.so",
    ),
    Pkg(
        "libmulti",
        arch="i686",
        files=(_file("/usr/share/doc/libmulti/README", "same\\n"),),
        install=(
            "mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib\n"
            f"{_ELF32} %{{buildroot}}/usr/bin/multi\n"
            "chmod 755 %{buildroot}/usr/bin/multi\n"
            "echo 32 > %{buildroot}/usr/lib/libmulti.so"
        ),
        listing="/usr/bin/multi\n/usr/lib/libmulti.so",
    ),
    Pkg("clash", files=(_file("/usr/share/base/shared.conf", "clash\\n"),)),
    Pkg("needs-missing", requires=("nonexistent >= 2",), files=(_file("/usr/share/nm/x"),)),
    Pkg(
        "basepkg",
        "2.0",
        provides=("basecap",),
        files=(_file("/usr/share/base/shared.conf", "base 2\\n"), _file("/usr/bin/basetool")),
    ),
    Pkg("needs-victim", requires=("victimcap",), files=(_file("/usr/share/nv/x"),)),
)

EXTRA = (Pkg("libfoo", "2.5", files=(_file("/usr/share/libfoo/version", "2.5\\n"),)),)
SIGNED = (
    Pkg("agent-data", arch="noarch", files=(_file("/usr/share/agent/data"),)),
    Pkg("unsigned", files=(_file("/usr/share/unsigned/u"),)),
)
LOCAL = (
    Pkg("localpkg", requires=("libbar",), files=(_file("/usr/share/localpkg/l"),)),
    Pkg(
        "basepkg",
        "0.9",
        provides=("basecap",),
        files=(_file("/usr/share/base/shared.conf", "base 0.9\\n"), _file("/usr/bin/basetool")),
    ),
)


def build_pkg(pkg: Pkg, workdir: Path) -> Path:
    """rpmbuild ``pkg``; i686 packages are built with ``--target`` (BuildArch refuses them)."""
    need("rpmbuild")
    top = workdir / f"top-{pkg.nevra}"
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    top.mkdir(parents=True, exist_ok=True)
    text = pkg.spec().text()
    target: list[str] = []
    if pkg.arch not in ("x86_64", "noarch"):
        text = text.replace("BuildArch: x86_64\n", "")
        target = ["--target", pkg.arch]
    spec_path = top / f"{pkg.name}.spec"
    spec_path.write_text(text)
    run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            *target,
            "--define",
            f"_topdir {top}",
            "--define",
            "_binary_payload w19.zstdio",
            "--define",
            "_build_id_links none",
            "--define",
            "__os_install_post %{nil}",
            "--define",
            "_buildhost ociforge-test",
            "--define",
            "use_source_date_epoch_as_buildtime 1",
            str(spec_path),
        ],
        env=rpms.env(home),
    )
    (built,) = sorted((top / "RPMS").rglob("*.rpm"))
    out = workdir / "rpms" / built.name
    out.parent.mkdir(exist_ok=True)
    shutil.copyfile(built, out)
    return out


def _rewrite_repomd(repodata: Path, codec: str) -> None:
    """Recompress primary/filelists/other from gzip to ``codec`` and fix repomd.xml to match."""
    ns = "http://linux.duke.edu/metadata/repo"
    ET.register_namespace("", ns)
    ET.register_namespace("rpm", "http://linux.duke.edu/metadata/rpm")
    path = repodata / "repomd.xml"
    tree = ET.parse(path)
    for data in tree.getroot().findall(f"{{{ns}}}data"):
        location = data.find(f"{{{ns}}}location")
        assert location is not None
        href = location.get("href", "")
        if not href.endswith(".xml.gz"):
            continue
        old = repodata.parent / href
        plain = gzip.decompress(old.read_bytes())
        compressed = subprocess.run(
            [codec, "-q", "-c", "-"], input=plain, capture_output=True, check=True
        ).stdout
        digest = hashlib.sha256(compressed).hexdigest()
        kind = data.get("type")
        new_href = f"repodata/{digest}-{kind}.xml.{'zst' if codec == 'zstd' else codec}"
        (repodata.parent / new_href).write_bytes(compressed)
        old.unlink()
        location.set("href", new_href)
        for tag, value in (("checksum", digest), ("size", str(len(compressed)))):
            node = data.find(f"{{{ns}}}{tag}")
            assert node is not None
            node.text = value
    tree.write(path, xml_declaration=True, encoding="UTF-8")


def make_repo(
    directory: Path, packages: list[Path], *, compress: str = "gz", zck: bool = False
) -> Path:
    """A repository in ``directory``: the packages under ``Packages/`` and ``repodata/``."""
    need("createrepo_c")
    (directory / "Packages").mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copyfile(package, directory / "Packages" / package.name)
    args = ["createrepo_c", "-q", "--no-database"]
    if compress in ("gz", "xz", "bz2"):
        args += ["--general-compress-type", compress]
    if zck:
        args.append("--zck")
    run([*args, str(directory)])
    if compress == "zstd":
        need("zstd")
        _rewrite_repomd(directory / "repodata", "zstd")
    return directory


def sign_repomd(directory: Path, key: rpms.Key) -> Path:
    """``repodata/repomd.xml.asc``: an armored detached signature, made by gpg."""
    need("gpg")
    repomd = directory / "repodata" / "repomd.xml"
    asc = repomd.with_name("repomd.xml.asc")
    asc.unlink(missing_ok=True)
    run(
        [
            "gpg",
            "--homedir",
            str(key.home),
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--local-user",
            key.fingerprint,
            "--armor",
            "--detach-sign",
            "--output",
            str(asc),
            str(repomd),
        ]
    )
    return asc


@dataclass(frozen=True)
class Graph:
    """Everything built once per test session."""

    workdir: Path
    rpms: dict[str, Path]
    base_root: Path
    key: rpms.Key

    def rpm(self, nevra: str) -> Path:
        return self.rpms[nevra]

    def paths(self, packages: tuple[Pkg, ...]) -> list[Path]:
        return [self.rpms[p.nevra] for p in packages]

    def repo(self, name: str, *, compress: str = "gz", zck: bool = False) -> Path:
        """The ``main``/``extra``/``signed`` repository, built on first use per variant."""
        directory = self.workdir / "repos" / f"{name}-{compress}{'-zck' if zck else ''}"
        if not (directory / "repodata" / "repomd.xml").exists():
            packages = {"main": MAIN, "extra": EXTRA}.get(name)
            if packages is not None:
                paths = self.paths(packages)
            elif name == "signed":
                signed = rpms.sign(self.rpms[SIGNED[0].nevra], self.key, self.workdir)
                paths = [signed, self.rpms[SIGNED[1].nevra]]
            else:
                raise KeyError(name)
            make_repo(directory, paths, compress=compress, zck=zck)
        return directory

    def copy_repo(self, name: str, destination: Path, **variant: object) -> Path:
        """A private copy a test may alter."""
        shutil.copytree(self.repo(name, **variant), destination)  # type: ignore[arg-type]
        return destination


_GRAPH: dict[str, Graph] = {}


def graph(factory: pytest.TempPathFactory) -> Graph:
    """The session's graph (built once per process, shared by every test directory)."""
    if "graph" not in _GRAPH:
        need("rpmbuild", "rpm", "createrepo_c")
        workdir = factory.mktemp("repo-graph")
        built = {}
        seen: set[str] = set()
        for pkg in BASE + MAIN + EXTRA + SIGNED + LOCAL:
            if pkg.nevra in seen:
                continue
            seen.add(pkg.nevra)
            built[pkg.nevra] = build_pkg(pkg, workdir)
        root = rpmroot.make_root(workdir / "base-root")
        rpmroot.rpm_install(root, *[built[p.nevra] for p in BASE])
        rpmroot.checkpoint(root)
        key = rpms.make_key(workdir, "rsa2048", "repo signer")
        _GRAPH["graph"] = Graph(workdir, built, root, key)
    return _GRAPH["graph"]


# --- serving --------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    client_cert: bool
    status: int = 0


@dataclass
class Override:
    """Answer requests for ``path`` with this instead of the file (status, body, headers)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Send only this many bytes of the body, then drop the connection (with a full length).
    cut_after: int | None = None
    times: int = 1_000_000


class RepoServer:
    """A threaded loopback HTTP(S) server for one directory, logging every request.

    ``tls`` serves HTTPS with that pair; ``client_ca`` then also requires a client
    certificate signed by it (the entitled-CDN shape), or only asks for one with
    ``require_client_cert=False`` (to see whether a client offers it). ``overrides``
    (path → Override)
    replace responses; ``Range: bytes=N-`` is honoured with a 206.
    """

    def __init__(
        self,
        root: Path,
        *,
        tls: pki.KeyPair | None = None,
        client_ca: pki.KeyPair | None = None,
        require_client_cert: bool = True,
        workdir: Path | None = None,
    ) -> None:
        self.root = root
        self.log: list[Seen] = []
        self.overrides: dict[str, Override] = {}
        #: Seconds to hold every response whose path contains a key (to observe parallelism).
        self.delays: dict[str, float] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server._serve(self)

            def do_HEAD(self) -> None:
                server._serve(self, head=True)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            assert workdir is not None
            cert, key = tls.write(workdir, "server")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            if client_ca is not None:
                ca, _ = client_ca.write(workdir, "client-ca")
                context.verify_mode = (
                    ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
                )
                context.load_verify_locations(cafile=ca)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def requests(self, fragment: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.log if fragment in s.path]

    def count(self, fragment: str = "") -> int:
        return len(self.requests(fragment))

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self, handler: http.server.BaseHTTPRequestHandler, *, head: bool = False) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            delay = max((d for k, d in self.delays.items() if k in handler.path), default=0.0)
            if delay:
                time.sleep(delay)
            self._answer(handler, head=head)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: http.server.BaseHTTPRequestHandler, *, head: bool) -> None:
        path = handler.path.split("?", 1)[0]
        cert = False
        with contextlib.suppress(AttributeError, ValueError):
            cert = bool(handler.connection.getpeercert())  # type: ignore[attr-defined]
        seen = Seen(handler.command, handler.path, dict(handler.headers.items()), cert)
        with self._lock:
            self.log.append(seen)
            override = self.overrides.get(path)
            if override is not None:
                override.times -= 1
                if override.times < 0:
                    override = None
        if override is not None:
            self._send(handler, seen, override.status, override.body, override.headers, head,
                       override.cut_after)  # fmt: skip
            return
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            self._send(handler, seen, 404, b"not found\n", {}, head)
            return
        body = target.read_bytes()
        status, headers = 200, {}
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes=") : -1])
            if start < len(body):
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                body, status = body[start:], 206
        self._send(handler, seen, status, body, headers, head)

    def _send(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        seen: Seen,
        status: int,
        body: bytes,
        headers: dict[str, str],
        head: bool,
        cut_after: int | None = None,
    ) -> None:
        seen.status = status
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if head:
            return
        try:
            if cut_after is not None:
                handler.wfile.write(body[:cut_after])
                handler.wfile.flush()
                handler.close_connection = True
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(2)
                return
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def serve(root: Path, **kwargs: object) -> Iterator[RepoServer]:
    server = RepoServer(root, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def installed_headers(root: Path) -> list[object]:
    """The root's rpmdb as ociforge reads it (the installed set a recipe would pass)."""
    from ociforge.rpm.rpmdb import Rpmdb

    db = Rpmdb((root / "usr/share/rpm/rpmdb.sqlite").read_bytes())
    try:
        return [p.header for p in db.packages()]
    finally:
        db.close()


def set_metadata(
    directory: Path,
    kind: str,
    plain: bytes,
    *,
    open_size: int | None = None,
    compress: Callable[[bytes], bytes] = gzip.compress,
    suffix: str = "gz",
) -> Path:
    """Replace the ``kind`` record's file with ``compress(plain)`` and fix ``repomd.xml``.

    Checksums and sizes are recomputed here with hashlib; ``open_size`` may lie on purpose.
    """
    ns = "http://linux.duke.edu/metadata/repo"
    ET.register_namespace("", ns)
    ET.register_namespace("rpm", "http://linux.duke.edu/metadata/rpm")
    path = directory / "repodata" / "repomd.xml"
    tree = ET.parse(path)
    for data in tree.getroot().findall(f"{{{ns}}}data"):
        if data.get("type") != kind:
            continue
        blob = compress(plain)
        digest = hashlib.sha256(blob).hexdigest()
        href = f"repodata/{digest}-{kind}.xml.{suffix}"
        (directory / href).write_bytes(blob)
        values = {
            "checksum": digest,
            "size": str(len(blob)),
            "open-checksum": hashlib.sha256(plain).hexdigest(),
            "open-size": str(len(plain) if open_size is None else open_size),
        }
        for tag, value in values.items():
            node = data.find(f"{{{ns}}}{tag}")
            assert node is not None
            node.text = value
        location = data.find(f"{{{ns}}}location")
        assert location is not None
        location.set("href", href)
        tree.write(path, xml_declaration=True, encoding="UTF-8")
        return directory / href
    raise KeyError(kind)


def primary_xml(directory: Path) -> bytes:
    """The decompressed primary.xml of a gzip repository (read with the stdlib)."""
    (path,) = (directory / "repodata").glob("*-primary.xml.gz")
    return gzip.decompress(path.read_bytes())


class ForwardProxy:
    """A loopback HTTP proxy: absolute-form GETs and CONNECT tunnels, logging each request."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []  # (method, target, Proxy-Authorization)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                import urllib.error
                import urllib.request

                proxy.log.append(("GET", self.path, self.headers.get("Proxy-Authorization", "")))
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                wanted = self.headers.get("Range")
                request = urllib.request.Request(
                    self.path, headers={"Range": wanted} if wanted else {}
                )
                try:
                    with opener.open(request, timeout=30) as upstream:
                        status, body, headers = upstream.status, upstream.read(), upstream.headers
                except urllib.error.HTTPError as exc:
                    status, body, headers = exc.code, exc.read(), exc.headers
                self.send_response(status)
                for name in ("Content-Range",):
                    if headers.get(name):
                        self.send_header(name, headers[name])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                import socket

                proxy.log.append(
                    ("CONNECT", self.path, self.headers.get("Proxy-Authorization", ""))
                )
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                client = self.connection

                def pump(src: socket.socket, dst: socket.socket) -> None:
                    with contextlib.suppress(OSError):
                        while data := src.recv(65536):
                            dst.sendall(data)
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)

                back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
                back.start()
                pump(client, upstream)
                back.join(30)
                upstream.close()
                self.close_connection = True

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
