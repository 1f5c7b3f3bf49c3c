"""Build real RPMs with rpmbuild (and sign them with rpmsign/gpg) for the tests; never ociforge.

Each package is described by a small spec body; :func:`build` wraps it with the defines that
make rpmbuild behave on Debian (``HOME`` isolation, no build-id links, no debuginfo).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import need, run

PAYLOADS = {
    "zstd": "w19.zstdio",
    "xz": "w9.xzdio",
    "gzip": "w9.gzdio",
    "bzip2": "w9.bzdio",
    "lzma": "w9.lzdio",
}
EPOCH = "1700000000"


def sysusers_evr(line: str) -> str:
    """The base64 EVR rpm 4.19 puts in ``user(x)`` provides (NUL-padded, so no '=')."""
    raw = line.encode()
    raw += b"\0" * (-len(raw) % 3)
    return base64.b64encode(raw).decode()


def env(home: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["HOME"] = str(home)
    out["SOURCE_DATE_EPOCH"] = EPOCH
    out.pop("GNUPGHOME", None)
    return out


@dataclass(frozen=True)
class Spec:
    name: str
    version: str = "1.0"
    release: str = "1"
    preamble: str = ""
    install: str = ""
    files: str = ""
    scripts: str = ""
    arch: str = "x86_64"

    def text(self) -> str:
        return textwrap.dedent(
            """\
            Name: {name}
            Version: {version}
            Release: {release}
            Summary: {name} test package
            License: MIT
            Group: Testing
            BuildArch: {arch}
            {preamble}
            %global debug_package %{{nil}}
            %description
            {name} test package built by the ociforge tests.
            {scripts}
            %install
            {install}
            find %{{buildroot}} -exec touch -h -d @{epoch} {{}} +
            %files
            {files}
            """
        ).format(epoch=EPOCH, **dict(self.__dict__.items()))


def build(spec: Spec, workdir: Path, *, payload: str = "zstd") -> Path:
    """Build ``spec`` with ``payload`` compression; return the .rpm path."""
    need("rpmbuild")
    top = workdir / f"top-{spec.name}-{spec.version}-{payload}"
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    top.mkdir(parents=True, exist_ok=True)
    spec_path = top / f"{spec.name}.spec"
    spec_path.write_text(spec.text())
    run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--define",
            f"_topdir {top}",
            "--define",
            f"_binary_payload {PAYLOADS[payload]}",
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
        env=env(home),
    )
    built = sorted((top / "RPMS").rglob("*.rpm"))
    assert len(built) == 1, built
    out = workdir / f"{spec.name}-{spec.version}-{spec.release}.{payload}.rpm"
    shutil.copyfile(built[0], out)
    return out


TINYD_LINE = 'u tinyd - "tiny daemon" /var/lib/tiny /sbin/nologin'

#: Everything the issue lists in one package: owners, links, hardlinks, %config, %ghost,
#: capabilities, a /var directory, an /opt file and a %pre that creates a user.
TINY = Spec(
    name="tiny",
    preamble=f"Provides: user(tinyd) = {sysusers_evr(TINYD_LINE)}\nRequires(pre): /bin/sh",
    scripts=textwrap.dedent(
        """\
        %pre
        getent group tinyd >/dev/null || groupadd -r tinyd
        getent passwd tinyd >/dev/null || \\
            useradd -r -g tinyd -d /var/lib/tiny -s /sbin/nologin -c "tiny daemon" tinyd
        exit 0
        """
    ),
    install=textwrap.dedent(
        """\
        cd %{buildroot}
        mkdir -p usr/bin etc/tiny var/lib/tiny opt/tiny usr/share/tiny
        cd -
        printf '#!/bin/sh\\necho tiny\\n' > %{buildroot}/usr/bin/tiny
        chmod 755 %{buildroot}/usr/bin/tiny
        ln -s tiny %{buildroot}/usr/bin/tiny-link
        ln -s ../share/tiny/a %{buildroot}/usr/bin/tiny-data
        cp %{buildroot}/usr/bin/tiny %{buildroot}/usr/bin/tinycap
        echo 'key = value' > %{buildroot}/etc/tiny/tiny.conf
        echo data > %{buildroot}/usr/share/tiny/a
        ln %{buildroot}/usr/share/tiny/a %{buildroot}/usr/share/tiny/b
        echo opt > %{buildroot}/opt/tiny/x
        echo owned > %{buildroot}/usr/share/tiny/owned
        echo daemon > %{buildroot}/usr/share/tiny/daemon-owned
        : > %{buildroot}/usr/share/tiny/empty
        head -c 300000 /dev/urandom > %{buildroot}/usr/share/tiny/random.bin
        """
    ),
    files=textwrap.dedent(
        """\
        /usr/bin/tiny
        /usr/bin/tiny-link
        /usr/bin/tiny-data
        %caps(cap_net_raw=ep) /usr/bin/tinycap
        %dir /etc/tiny
        %config(noreplace) /etc/tiny/tiny.conf
        %ghost %attr(0640,root,root) /var/log/tiny.log
        %dir %attr(0750,daemon,daemon) /var/lib/tiny
        %dir /usr/share/tiny
        /usr/share/tiny/a
        /usr/share/tiny/b
        /usr/share/tiny/empty
        /usr/share/tiny/random.bin
        %attr(0640,tinyd,tinyd) /usr/share/tiny/owned
        %attr(4755,daemon,daemon) /usr/share/tiny/daemon-owned
        /opt/tiny
        """
    ),
)

#: A second version of ``tiny`` that drops some files (override replace).
TINY2 = Spec(
    name="tiny",
    version="2.0",
    install=textwrap.dedent(
        """\
        mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/tiny
        printf '#!/bin/sh\\necho tiny 2\\n' > %{buildroot}/usr/bin/tiny
        chmod 755 %{buildroot}/usr/bin/tiny
        echo new > %{buildroot}/usr/share/tiny/new
        """
    ),
    files="/usr/bin/tiny\n%dir /usr/share/tiny\n/usr/share/tiny/new\n",
)

KERNEL = Spec(
    name="kernel-core",
    version="6.1.0",
    release="1.fc99",
    preamble="Provides: kernel = 6.1.0-1.fc99",
    install=textwrap.dedent(
        """\
        mkdir -p %{buildroot}/usr/lib/modules/6.1.0-1.fc99.x86_64
        head -c 4096 /dev/urandom > %{buildroot}/usr/lib/modules/6.1.0-1.fc99.x86_64/vmlinuz
        echo map > %{buildroot}/usr/lib/modules/6.1.0-1.fc99.x86_64/System.map
        """
    ),
    files="/usr/lib/modules/6.1.0-1.fc99.x86_64\n",
)

#: A package with a %post that does something we cannot run.
SCRIPTED = Spec(
    name="scripted",
    scripts="%post\necho hello > /etc/motd\n\n%postun -p /sbin/ldconfig\n",
    install="mkdir -p %{buildroot}/usr/share/scripted\necho s >%{buildroot}/usr/share/scripted/s\n",
    files="/usr/share/scripted/s\n",
)

#: A package whose only scriptlet is the harmless ldconfig.
LDCONFIG = Spec(
    name="libtiny",
    scripts="%post -p /sbin/ldconfig\n",
    install="mkdir -p %{buildroot}/usr/lib64\necho lib > %{buildroot}/usr/lib64/libtiny.so.1\n",
    files="/usr/lib64/libtiny.so.1\n",
)


#: A file followed by 3 MiB more payload, so a change in the first is found before the payload's
#: end (where PAYLOADSHA256 would report it first).
TWO_FILES = Spec(
    name="twofiles",
    install=(
        "mkdir -p %{buildroot}/usr/share/two\n"
        "head -c 300000 /dev/urandom > %{buildroot}/usr/share/two/a.bin\n"
        "head -c 3000000 /dev/urandom > %{buildroot}/usr/share/two/z.bin\n"
    ),
    files="/usr/share/two/a.bin\n/usr/share/two/z.bin\n",
)


#: Rich and ordinary dependencies of every kind the rpmdb indexes.
#: What a real base's filesystem, bash and glibc packages provide to everything else: the
#: interpreters scriptlets require. Installed (--justdb) into the test bases, so the
#: dependency check sees what a CoreOS rpmdb would offer.
SYSTEM = Spec(
    name="base-system",
    preamble=(
        "Provides: /bin/sh /usr/bin/sh /bin/bash /usr/bin/bash /sbin/ldconfig\n"
        "Provides: /usr/sbin/ldconfig coreutils shadow-utils\n"
        "AutoReqProv: no"
    ),
    install="mkdir -p %{buildroot}/usr/share/doc/base-system\n"
    "echo base > %{buildroot}/usr/share/doc/base-system/README\n",
    files="/usr/share/doc/base-system/README\n",
    arch="noarch",
)

DEPS = Spec(
    name="deps",
    preamble=(
        "Requires: (tiny >= 1.0 if libtiny)\nRequires: (a or (b and c))\n"
        "Requires: (x if y else z)\nRequires(post): /bin/sh\nRequires(pre,postun): coreutils\n"
        "Conflicts: nothing < 2\nObsoletes: olddeps\nRecommends: rec\nSuggests: sug\n"
        "Supplements: (sup and other)\nEnhances: enh\n"
    ),
    scripts=(
        "%post\n/sbin/ldconfig\n\n%triggerin -- tiny\ntrue\n\n%triggerun -- tiny\ntrue\n\n"
        "%filetriggerin -- /usr/lib64\ntrue\n\n%transfiletriggerin -- /usr/share\ntrue\n"
    ),
    install="mkdir -p %{buildroot}/usr/share/deps\necho d > %{buildroot}/usr/share/deps/d\n",
    files="/usr/share/deps\n",
)


def big(size: int) -> Spec:
    """One incompressible file of ``size`` bytes (benchmarks)."""
    return Spec(
        name="bigpkg",
        install=(
            "mkdir -p %{buildroot}/usr/share/big\n"
            f"head -c {size} /dev/urandom > %{{buildroot}}/usr/share/big/blob\n"
        ),
        files="/usr/share/big/blob\n",
    )


@dataclass(frozen=True)
class Key:
    home: Path
    fingerprint: str
    public: Path
    public_binary: Path


def make_key(workdir: Path, algorithm: str = "rsa2048", name: str = "ociforge test") -> Key:
    """A throwaway gpg signing key (``rsa2048``, ``ed25519`` or ``nistp256``)."""
    need("gpg", "gpg-agent")  # gpg only recommends the agent, which key generation needs
    home = workdir / f"gnupg-{algorithm}-{name.replace(' ', '_')}"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    base = [
        "gpg",
        "--homedir",
        str(home),
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ]
    run(
        [
            *base,
            "--quick-gen-key",
            f"{name} <{algorithm}@example.invalid>",
            algorithm,
            "sign",
            "never",
        ]
    )
    listing = run([*base, "--with-colons", "--list-keys"]).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    public = workdir / f"{algorithm}-{name.replace(' ', '_')}.asc"
    public.write_text(run([*base, "--armor", "--export", fpr]).stdout)
    binary = workdir / f"{algorithm}-{name.replace(' ', '_')}.gpg"
    binary.write_bytes(
        subprocess.run([*base, "--export", fpr], capture_output=True, check=True).stdout
    )
    return Key(home, fpr, public, binary)


def sign(rpm: Path, key: Key, workdir: Path) -> Path:
    """A copy of ``rpm`` signed by ``key`` with rpmsign."""
    need("rpmsign", "gpg", "gpg-agent")
    out = workdir / (rpm.stem + f".signed-{key.fingerprint[-8:]}.rpm")
    shutil.copyfile(rpm, out)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    run(
        [
            "rpmsign",
            "--addsign",
            "--define",
            f"_gpg_name {key.fingerprint}",
            "--define",
            f"_gpg_path {key.home}",
            "--define",
            "__gpg /usr/bin/gpg",
            "--define",
            "_gpg_sign_cmd_extra_args --pinentry-mode loopback --passphrase ''",
            str(out),
        ],
        env=env(home),
    )
    return out
