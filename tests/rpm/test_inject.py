"""End to end: our layer over a base, against rpm's own install on the same base (the oracle)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ociforge.errors import PolicyError, SignatureError, UnsupportedError
from ociforge.rpm.inject import BASE_FILES, InjectOptions, InjectReport, inject_rpms
from ociforge.rpm.package import read_package
from ociforge.rpm.signature import load_keys
from ociforge.tar.build import LayerBuilder
from ociforge.tar.flatten import FlatTree, flatten_image, wanted_paths
from ociforge.transports import open_image
from tests.support import rpmroot, rpms
from tests.support.tools import need, run

WHEN = 1700000000


def build_base(
    tmp: Path, *, coreos: bool = True, installed: tuple[Path, ...] = ()
) -> tuple[Path, FlatTree]:
    root = rpmroot.make_root(tmp / "base", coreos=coreos, system=False)
    if installed:
        rpmroot.rpm_install(root, *installed)
    rpmroot.write_base_archive(root, tmp / "base.ociarchive")
    image = open_image(f"oci-archive:{tmp / 'base.ociarchive'}")
    return root, flatten_image(image, wanted=wanted_paths(BASE_FILES))


def inject(tree: FlatTree, packages: list[Path], **options: object) -> tuple[bytes, InjectReport]:
    builder = LayerBuilder(compression="gzip")
    try:
        report = inject_rpms(
            tree, packages, builder, options=InjectOptions(install_time=WHEN, **options)
        )  # type: ignore[arg-type]
    except BaseException:
        builder.close()
        raise
    layer = builder.build()
    with layer.open_compressed() as fh:
        return gzip.decompress(fh.read()), report


def ours_and_rpms(tmp: Path, base: Path, layer: bytes, packages: list[Path]) -> tuple[Path, Path]:
    ours = tmp / "ours"
    theirs = tmp / "theirs"
    shutil.copytree(base, ours, symlinks=True)
    rpmroot.apply_tar(ours, layer)
    shutil.copytree(base, theirs, symlinks=True)
    # rpm --noscripts creates no users; give its root the accounts our layer created.
    for name in ("etc/passwd", "etc/group"):
        shutil.copyfile(ours / name, theirs / name)
    rpmroot.rpm_install(theirs, *packages)
    rpmroot.checkpoint(theirs)
    return ours, theirs


def rpm_verify(root: Path, *names: str) -> str:
    """``rpm -V --nodeps`` output (the roots have no /bin/sh to satisfy dependencies)."""
    env = rpms.env(root.parent)
    proc = run(
        ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", "-V", "--nodeps", *names],
        env=env,
    )
    return proc.stdout


def rpm_query(root: Path, *args: str) -> str:
    env = rpms.env(root.parent)
    proc = run(["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", *args], env=env)
    return proc.stdout


@pytest.mark.parametrize("codec", ["zstd", "xz", "gzip"])
def test_tree_and_rpmdb_match_rpms_install(
    codec: str, tmp_path: Path, tiny_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    need("rpm")
    deps = rpms.build(rpms.DEPS, rpm_dir)
    base, tree = build_base(tmp_path, installed=(deps,))
    package = tiny_rpms[codec]
    layer, report = inject(tree, [package])
    ours, theirs = ours_and_rpms(tmp_path, base, layer, [package])
    with package.open("rb") as fh:
        files = read_package(fh).files
    translated = {"/opt/tiny", "/opt/tiny/x", "/var/lib/tiny", "/var/log/tiny.log"}
    compared = 0
    for f in files:
        if f.path in translated:
            continue
        assert rpmroot.describe(ours / f.path.lstrip("/")) == rpmroot.describe(
            theirs / f.path.lstrip("/")
        ), f.path
        compared += 1
    assert compared == len(files) - len(translated)
    cap = os.getxattr(theirs / "usr/bin/tinycap", "security.capability")
    assert os.getxattr(ours / "usr/bin/tinycap", "security.capability") == cap
    # /opt is a link into /var on CoreOS: the content moved to /usr/lib/opt, as rpm-ostree does.
    assert (ours / "usr/lib/opt/tiny/x").read_bytes() == (theirs / "opt/tiny/x").read_bytes()
    conf = (ours / "usr/lib/tmpfiles.d/ociforge-tiny.conf").read_text()
    assert "d /var/lib/tiny 0750 daemon daemon - -" in conf
    assert "L /var/opt/tiny - - - - /usr/lib/opt/tiny" in conf
    # Simulate first boot's systemd-tmpfiles; then rpm -V must agree with rpm's own install.
    rpmroot.apply_tmpfiles(ours, conf)
    assert rpm_query(ours, "-qa") == rpm_query(theirs, "-qa")
    for query in (
        ["-ql", "tiny"],
        ["-q", "--whatprovides", "user(tinyd)"],
        ["-qf", "/usr/bin/tinycap"],
        ["-q", "--whatrequires", "/bin/sh"],
        ["-q", "--provides", "tiny"],
        ["-q", "--dump", "tiny"],
    ):
        assert rpm_query(ours, *query) == rpm_query(theirs, *query), query
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("Install Date")]  # noqa: E731
    assert strip(rpm_query(ours, "-qi", "tiny")) == strip(rpm_query(theirs, "-qi", "tiny"))
    assert rpm_verify(ours, "tiny", "deps") == rpm_verify(theirs, "tiny", "deps") == ""
    assert "tiny-1.0-1.x86_64" in report.packages


def test_users_created_from_pre_and_sysusers(tmp_path: Path, tiny_rpms: dict[str, Path]) -> None:
    _base, tree = build_base(tmp_path)
    layer, report = inject(tree, [tiny_rpms["zstd"]])
    members = {}
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        for info in tf:
            data = tf.extractfile(info)
            members[info.name] = (info, data.read() if data else b"")
    passwd = members["etc/passwd"][1].decode()
    assert passwd.startswith(rpmroot.PASSWD)  # the base's lines kept
    line = next(entry for entry in passwd.splitlines() if entry.startswith("tinyd:"))
    _name, _x, uid, gid, gecos, home, shell = line.split(":")
    assert int(uid) <= 999
    assert (gecos, home, shell) == ("tiny daemon", "/var/lib/tiny", "/sbin/nologin")
    assert f"tinyd:x:{gid}:" in members["etc/group"][1].decode()
    assert members["usr/share/tiny/owned"][0].uid == int(uid)
    sysusers = members["usr/lib/sysusers.d/ociforge-tiny.conf"][1].decode()
    assert f"u tinyd {uid}:{gid} 'tiny daemon' /var/lib/tiny /sbin/nologin" in sysusers
    assert members["etc/shadow"][0].mode == 0
    assert "tinyd:!!:" in members["etc/shadow"][1].decode()
    assert any("created user tinyd" in note for note in report.notes)


def test_users_in_usr_lib_passwd_resolve(tmp_path: Path, rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name="admfiles",
        install="mkdir -p %{buildroot}/usr/share/adm\necho x > %{buildroot}/usr/share/adm/f\n",
        files="%attr(0600,adm,adm) /usr/share/adm/f\n",
    )
    _base, tree = build_base(tmp_path)
    layer, _ = inject(tree, [rpms.build(spec, rpm_dir)])
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        info = tf.getmember("usr/share/adm/f")
    assert (info.uid, info.gid) == (3, 4)


def test_unknown_owner_is_an_error_unless_root_fallback(tmp_path: Path, rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name="nobodyfiles",
        install="mkdir -p %{buildroot}/usr/share/nb %{buildroot}/var/lib/nb\necho x > %{buildroot}/usr/share/nb/f\n",
        files="%attr(4755,ghostuser,ghostgroup) /usr/share/nb/f\n%dir %attr(0750,ghostuser,ghostgroup) /var/lib/nb\n",
    )
    package = rpms.build(spec, rpm_dir)
    _base, tree = build_base(tmp_path)
    with pytest.raises(PolicyError, match="ghostuser"):
        inject(tree, [package])
    layer, report = inject(tree, [package], unknown_owner_root=True)
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        info = tf.getmember("usr/share/nb/f")
        conf = tf.extractfile("usr/lib/tmpfiles.d/ociforge-nobodyfiles.conf")
        assert conf is not None
        assert conf.read() == b"d /var/lib/nb 0750 root root - -\n"
    assert (info.uid, info.gid, info.mode) == (0, 0, 0o755)  # set-id bits dropped, as rpm does
    assert any("using root" in note for note in report.notes)


def test_override_replace_whiteouts_and_rpmdb(
    tmp_path: Path, tiny_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    need("rpm")
    old = tiny_rpms["zstd"]
    new = rpms.build(rpms.TINY2, rpm_dir)
    base = rpmroot.make_root(tmp_path / "base", system=False)
    shutil.copyfile(base / "etc/passwd", tmp_path / "p")
    with (base / "etc/passwd").open("a") as fh:
        fh.write("tinyd:x:990:990::/:/sbin/nologin\n")
    with (base / "etc/group").open("a") as fh:
        fh.write("tinyd:x:990:\n")
    rpmroot.rpm_install(base, old)
    rpmroot.write_base_archive(base, tmp_path / "base.ociarchive")
    tree = flatten_image(
        open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}"), wanted=wanted_paths(BASE_FILES)
    )
    layer, report = inject(tree, [new])
    assert report.replaced == ["tiny-1.0-1.x86_64"]
    ours = tmp_path / "ours"
    shutil.copytree(base, ours, symlinks=True)
    rpmroot.apply_tar(ours, layer)
    theirs = tmp_path / "theirs"
    shutil.copytree(base, theirs, symlinks=True)
    run(
        [
            "rpm",
            "--root",
            str(theirs),
            "--dbpath",
            "/usr/share/rpm",
            "--nodeps",
            "--noscripts",
            "--force-debian",
            "-U",
            str(new),
        ],
        env=rpms.env(tmp_path),
    )
    rpmroot.checkpoint(theirs)
    for path in (
        "usr/bin/tiny-link",
        "usr/share/tiny/a",
        "usr/share/tiny/b",
        "usr/bin/tinycap",
        "etc/tiny/tiny.conf",
    ):
        assert not (ours / path).exists() and not (ours / path).is_symlink(), path
        assert not (theirs / path).exists() and not (theirs / path).is_symlink(), path
    assert (ours / "usr/bin/tiny").read_bytes() == (theirs / "usr/bin/tiny").read_bytes()
    assert rpm_query(ours, "-qa") == rpm_query(theirs, "-qa") == "tiny-2.0-1.x86_64\n"
    assert rpm_query(ours, "-ql", "tiny") == rpm_query(theirs, "-ql", "tiny")
    assert rpm_verify(ours, "tiny") == rpm_verify(theirs, "tiny") == ""


def test_kernel_is_refused_unless_allowed(tmp_path: Path, rpm_dir: Path) -> None:
    kernel = rpms.build(rpms.KERNEL, rpm_dir)
    _base, tree = build_base(tmp_path)
    with pytest.raises(PolicyError, match="dracut"):
        inject(tree, [kernel])
    layer, report = inject(tree, [kernel], allow_kernel=True)
    assert report.packages == ["kernel-core-6.1.0-1.fc99.x86_64"]
    assert b"usr/lib/modules/6.1.0-1.fc99.x86_64/vmlinuz" in layer


def test_scriptlets_refused_or_skipped_and_reported(tmp_path: Path, rpm_dir: Path) -> None:
    scripted = rpms.build(rpms.SCRIPTED, rpm_dir)
    harmless = rpms.build(rpms.LDCONFIG, rpm_dir)
    _base, tree = build_base(tmp_path)
    with pytest.raises(
        PolicyError, match=r"scripted-1\.0-1\.x86_64: %post runs 'echo hello > /etc/motd'"
    ):
        inject(tree, [scripted])
    _layer, report = inject(tree, [scripted, harmless], skip_scriptlets=True)
    assert any("%post NOT RUN" in note and "scripted" in note for note in report.notes)
    _layer, report = inject(tree, [harmless])
    assert any("libtiny" in note and "%post not run (harmless)" in note for note in report.notes)


def test_signatures_required(
    tmp_path: Path,
    signed_rpms: dict[str, Path],
    tiny_rpms: dict[str, Path],
    rsa_key: rpms.Key,
    ed25519_key: rpms.Key,
) -> None:
    _base, tree = build_base(tmp_path)
    keys = load_keys(rsa_key.public.read_bytes())
    _layer, report = inject(tree, [signed_rpms["rsa"]], keys=keys, require_signatures=True)
    assert any("signature OK" in note for note in report.notes)
    with pytest.raises(SignatureError, match="unknown key"):
        inject(tree, [signed_rpms["ed25519"]], keys=keys, require_signatures=True)
    with pytest.raises(SignatureError, match="not signed"):
        inject(tree, [tiny_rpms["zstd"]], keys=keys, require_signatures=True)


def test_plain_base_keeps_opt_and_var_translated(
    tmp_path: Path, tiny_rpms: dict[str, Path]
) -> None:
    _base, tree = build_base(tmp_path, coreos=False)
    layer, report = inject(tree, [tiny_rpms["gzip"]])
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        names = set(tf.getnames())
    assert "opt/tiny/x" in names  # /opt is a real directory here, so it stays
    assert not any(n.startswith("var/") for n in names)
    assert any("/var/lib/tiny becomes a tmpfiles.d entry" in note for note in report.notes)


def test_berkeley_db_base_is_refused(tmp_path: Path, tiny_rpms: dict[str, Path]) -> None:
    root = rpmroot.make_root(tmp_path / "base", system=False)
    (root / "usr/share/rpm/Packages").write_bytes(b"\0" * 12 + (0x00061561).to_bytes(4, "little"))
    rpmroot.write_base_archive(root, tmp_path / "base.ociarchive")
    tree = flatten_image(
        open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}"), wanted=wanted_paths(BASE_FILES)
    )
    with pytest.raises(UnsupportedError, match="Berkeley DB"):
        inject(tree, [tiny_rpms["zstd"]])


def test_ostree_style_base_with_hardlinked_rpmdb(
    tmp_path: Path, tiny_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    """As in ostree-ext exports: the tree is hard links into sysroot/ostree/repo/objects."""
    from tests.support import images

    need("rpm")
    root = rpmroot.make_root(tmp_path / "seed", system=False)
    rpmroot.rpm_install(root, rpms.build(rpms.DEPS, rpm_dir))
    rpmroot.checkpoint(root)
    db = (root / "usr/share/rpm/rpmdb.sqlite").read_bytes()
    entries = [
        images.directory(d)
        for d in (
            "sysroot",
            "sysroot/ostree",
            "sysroot/ostree/repo",
            "sysroot/ostree/repo/objects",
            "sysroot/ostree/repo/objects/ab",
            "usr",
            "usr/share",
            "usr/share/rpm",
            "etc",
            "var",
            "run",
            "tmp",
            "dev",
            "proc",
            "sys",
        )
    ]
    for i, (path, data) in enumerate(
        (
            ("usr/share/rpm/rpmdb.sqlite", db),
            ("etc/passwd", rpmroot.PASSWD.encode()),
            ("etc/group", rpmroot.GROUP.encode()),
        )
    ):
        obj = f"sysroot/ostree/repo/objects/ab/{i:062d}.file"
        entries += [images.file(obj, data), images.hardlink(path, obj)]
    entries += [images.directory("var/opt"), images.symlink("opt", "var/opt")]
    built = images.image([images.layer(entries)])
    images.write_archive(str(tmp_path / "base.ociarchive"), [(built, "")])
    image = open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}")
    tree = flatten_image(image, wanted=wanted_paths(BASE_FILES), verify=False)
    assert tree.read("/usr/share/rpm/rpmdb.sqlite") == db
    layer, _report = inject(tree, [tiny_rpms["zstd"]])
    ours = tmp_path / "ours"
    ours.mkdir()
    rpmroot.apply_tar(ours, layer)
    assert rpm_query(ours, "-qa", "--qf", "%{NAME}\n").split() == ["deps", "tiny"]
    assert (
        "daemon" in (ours / "etc/passwd").read_text()
    )  # the base's accounts, read through the link


def test_base_file_triggers_are_reported(tmp_path: Path, rpm_dir: Path) -> None:
    # deps has %filetriggerin on /usr/lib64 and %transfiletriggerin on /usr/share.
    _base, tree = build_base(tmp_path, installed=(rpms.build(rpms.DEPS, rpm_dir),))
    _layer, report = inject(tree, [rpms.build(rpms.LDCONFIG, rpm_dir)])
    assert any(
        note.startswith("deps-1.0-1.x86_64: %filetriggerin on /usr/lib64 NOT RUN")
        for note in report.notes
    ), report.notes


@pytest.mark.parametrize("which", ["kernel", "libtiny", "signed", "bzip2"])
def test_other_packages_match_rpms_install(
    which: str,
    tmp_path: Path,
    rpm_dir: Path,
    tiny_rpms: dict[str, Path],
    signed_rpms: dict[str, Path],
) -> None:
    need("rpm")
    package = {
        "kernel": lambda: rpms.build(rpms.KERNEL, rpm_dir),
        "libtiny": lambda: rpms.build(rpms.LDCONFIG, rpm_dir),
        "signed": lambda: signed_rpms["rsa"],
        "bzip2": lambda: tiny_rpms["bzip2"],
    }[which]()
    base, tree = build_base(tmp_path)
    layer, _report = inject(tree, [package], allow_kernel=True)
    ours, theirs = ours_and_rpms(tmp_path, base, layer, [package])
    with package.open("rb") as fh:
        files = read_package(fh).files
    for f in files:
        if f.path.startswith(("/opt", "/var")):
            continue
        assert rpmroot.describe(ours / f.path.lstrip("/")) == rpmroot.describe(
            theirs / f.path.lstrip("/")
        ), f.path
    name = read_name(package)
    conf = ours / "usr/lib/tmpfiles.d" / f"ociforge-{name}.conf"
    if conf.exists():
        rpmroot.apply_tmpfiles(ours, conf.read_text())
    for query in (["-qa"], ["-qi", name], ["-ql", name], ["-q", "--provides", name]):
        strip = [
            line
            for line in rpm_query(ours, *query).splitlines()
            if not line.startswith("Install Date")
        ]
        want = [
            line
            for line in rpm_query(theirs, *query).splitlines()
            if not line.startswith("Install Date")
        ]
        assert strip == want, query
    assert rpm_verify(ours, name) == rpm_verify(theirs, name)


def read_name(package: Path) -> str:
    with package.open("rb") as fh:
        return read_package(fh).name


def test_install_time_follows_source_date_epoch(
    tmp_path: Path, tiny_rpms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    need("rpm")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    _base, tree = build_base(tmp_path)
    builder = LayerBuilder(compression="gzip")
    inject_rpms(tree, [tiny_rpms["zstd"]], builder)
    layer = builder.build()
    with layer.open_compressed() as fh:
        raw = gzip.decompress(fh.read())
    ours = tmp_path / "ours"
    ours.mkdir()
    rpmroot.apply_tar(ours, raw)
    assert (
        rpm_query(ours, "-q", "--qf", "%{INSTALLTIME} %{INSTALLTID}\\n", "tiny")
        == "1234567890 1234567890\n"
    )
    # Package files keep their recorded mtimes (not clamped to the earlier epoch), so rpm -V
    # sees no mtime change (flag T); paths the ostree rules move to tmpfiles show as missing.
    proc = subprocess.run(
        ["rpm", "--root", str(ours), "--dbpath", "/usr/share/rpm", "-V", "--nodeps", "tiny"],
        env=rpms.env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    flags = [line.split()[0] for line in proc.stdout.splitlines() if not line.startswith("missing")]
    assert proc.stdout.count("missing") >= 1
    assert not [f for f in flags if len(f) >= 8 and f[7] == "T"], proc.stdout
