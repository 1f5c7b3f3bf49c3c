"""LayerBuilder: deterministic layers from local files, trees and explicit entries."""

from __future__ import annotations

import io
import os
import random
import stat
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociforge.errors import NotFound, PathConflict, TarError, UnsafePath
from ociforge.tar.build import LayerBuilder
from ociforge.tar.header import LNK, REG, TarHeader
from tests.support import layers as oracle
from tests.support.tools import need, ostree_import, run


def read_back(builder: LayerBuilder) -> tuple[object, list[oracle.Member]]:
    layer = builder.build()
    blob = oracle.layer_blob(layer)
    raw = oracle.decompress(blob)
    # Both identities checked against hashlib over bytes the stdlib decoded.
    assert str(layer.digest) == oracle.sha256(blob)
    assert str(layer.diff_id) == oracle.sha256(raw)
    assert layer.size == len(blob)
    with layer.open_uncompressed() as reader:  # verified reader: digest and diff_id
        assert reader.read() == raw
    return layer, oracle.members(raw)


def by_name(members: list[oracle.Member]) -> dict[str, oracle.Member]:
    return {m.name.rstrip("/"): m for m in members}


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "share" / "doc").mkdir(parents=True)
    (root / "share" / "doc" / "README").write_text("read me\n")
    os.link(root / "bin" / "tool", root / "bin" / "alias")
    (root / "bin" / "link").symlink_to("tool")
    (root / "empty").write_bytes(b"")
    return root


def test_files_trees_and_links_in_sorted_order_with_parents(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    single = tmp_path / "motd"
    single.write_text("hello\n")
    builder = LayerBuilder(source_date_epoch=None)
    builder.add_tree(tree, "/usr/local/lib/app", uid=0, gid=0)
    builder.add_file(single, "/etc/motd", mode=0o600, uid=1000, gid=1001)
    builder.add_symlink("/usr/bin/app", "../local/lib/app/bin/tool")
    builder.add_bytes("/etc/app.conf", b"x=1\n", xattrs={"user.color": b"blue"})
    _, members = read_back(builder)

    names = [m.name for m in members]  # tarfile drops a directory's trailing slash
    # Parents first, sorted by path components, no root entry, no ./ prefix.
    assert names[:2] == ["etc", "etc/app.conf"]
    assert names.index("usr") < names.index("usr/local") < names.index("usr/local/lib/app")
    keys = [tuple(n.split("/")) for n in names]
    assert keys == sorted(keys)
    entries = by_name(members)
    for parent in ("etc", "usr", "usr/local", "usr/local/lib", "usr/bin"):
        info = entries[parent].info
        assert info.isdir()
        assert info.mode == 0o755
        assert (info.uid, info.gid) == (0, 0)
    motd = entries["etc/motd"]
    assert motd.data == b"hello\n"
    assert motd.info.mode == 0o600
    assert (motd.info.uid, motd.info.gid, motd.info.uname, motd.info.gname) == (1000, 1001, "", "")
    assert entries["etc/app.conf"].info.pax_headers["SCHILY.xattr.user.color"] == "blue"
    assert entries["usr/bin/app"].info.issym()
    assert entries["usr/bin/app"].info.linkname == "../local/lib/app/bin/tool"
    # The local hard link pair: the one that sorts first carries the data.
    alias, tool = entries["usr/local/lib/app/bin/alias"], entries["usr/local/lib/app/bin/tool"]
    assert alias.info.isreg()
    assert alias.data == b"#!/bin/sh\necho hi\n"
    assert alias.info.mode == 0o755
    assert tool.info.islnk()
    assert tool.info.linkname == "usr/local/lib/app/bin/alias"
    assert entries["usr/local/lib/app/bin/link"].info.linkname == "tool"
    assert entries["usr/local/lib/app/empty"].info.size == 0


def test_gzip_header_has_no_timestamp(tmp_path: Path) -> None:
    builder = LayerBuilder()
    builder.add_bytes("a", b"a")
    layer = builder.build()
    blob = oracle.layer_blob(layer)
    assert blob[:2] == b"\x1f\x8b"
    assert blob[4:8] == b"\0\0\0\0"
    assert layer.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"


def test_zstd_layer(tmp_path: Path) -> None:
    builder = LayerBuilder(compression="zstd")
    builder.add_bytes("usr/share/z", b"z" * 100_000)
    layer, members = read_back(builder)
    assert layer.media_type.endswith("+zstd")  # type: ignore[attr-defined]
    assert by_name(members)["usr/share/z"].data == b"z" * 100_000


def test_source_date_epoch_clamps_mtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new = tmp_path / "new"
    new.write_text("n")
    os.utime(new, (2_000_000_000, 2_000_000_000))
    old = tmp_path / "old"
    old.write_text("o")
    os.utime(old, (1_000, 1_000))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    builder = LayerBuilder()
    builder.add_file(new, "new")
    builder.add_file(old, "old")
    builder.add_bytes("gen", b"g", mtime=1_800_000_000)
    _, members = read_back(builder)
    mtimes = {m.name: m.info.mtime for m in members}
    assert mtimes == {"gen": 1_700_000_000, "new": 1_700_000_000, "old": 1_000}


def test_hardlink_target_sorting_after_the_link_is_swapped() -> None:
    builder = LayerBuilder()
    builder.add_bytes("z/data", b"payload", mode=0o640, uid=7)
    builder.add_hardlink("a/first", "z/data")
    builder.add_hardlink("m/second", "/z/data")
    _, members = read_back(builder)
    entries = by_name(members)
    assert entries["a/first"].info.isreg()
    assert entries["a/first"].data == b"payload"
    assert (entries["a/first"].info.mode, entries["a/first"].info.uid) == (0o640, 7)
    for other in ("m/second", "z/data"):
        assert entries[other].info.islnk()
        assert entries[other].info.linkname == "a/first"
    names = [m.name for m in members]
    assert names.index("a/first") < names.index("m/second") < names.index("z/data")


def test_hardlink_to_lower_content_is_kept() -> None:
    builder = LayerBuilder()
    builder.add_hardlink("usr/bin/b", "usr/bin/a")
    _, members = read_back(builder)
    assert by_name(members)["usr/bin/b"].info.linkname == "usr/bin/a"


def test_add_entry_data_as_bytes_reader_and_opener() -> None:
    builder = LayerBuilder()
    builder.add_entry(TarHeader("a", size=3, mode=0o600, uname="root", gname="wheel"), b"abc")
    stream = io.BytesIO(b"0123456789tail")
    builder.add_entry(TarHeader("b", size=10), stream)
    assert stream.read() == b"tail"  # exactly size bytes were taken, at once
    builder.add_entry(TarHeader("c", size=2), lambda: io.BytesIO(b"xy"))
    builder.add_entry(TarHeader("d/", type="5", mode=0o700, uid=5))
    builder.add_entry(TarHeader("d/e", type=LNK, linkname="./a"))
    _, members = read_back(builder)
    entries = by_name(members)
    assert entries["a"].data == b"abc"
    assert entries["a"].info.uname == ""
    assert entries["b"].data == b"0123456789"
    assert entries["c"].data == b"xy"
    assert entries["d"].info.mode == 0o700
    assert entries["d"].info.uid == 5
    assert entries["a"].info.isreg()
    assert entries["d/e"].info.linkname == "a"


def test_add_entry_short_data_is_an_error() -> None:
    builder = LayerBuilder()
    with pytest.raises(TarError, match="short"):
        builder.add_entry(TarHeader("a", size=10), io.BytesIO(b"abc"))
    with pytest.raises(TarError, match="3 bytes"):
        builder.add_entry(TarHeader("b", size=10), b"abc")
    builder.add_entry(TarHeader("c", size=10), lambda: io.BytesIO(b"abc"))
    with pytest.raises(TarError, match="early"):
        builder.build()


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "a/../../b", "/etc/passwd", "a/.wh.", "a/.wh..", "a/.wh...", ".wh.../x"],
)
def test_unsafe_entry_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafePath):
        LayerBuilder().add_entry(TarHeader(name))


@pytest.mark.parametrize("link", ["../outside", "/etc/passwd", "a/../../x"])
def test_unsafe_hardlink_targets_are_refused(link: str) -> None:
    with pytest.raises(UnsafePath):
        LayerBuilder().add_entry(TarHeader("a", type=LNK, linkname=link))


def test_image_paths_may_start_with_slash_but_not_climb(tmp_path: Path) -> None:
    builder = LayerBuilder()
    with pytest.raises(UnsafePath):
        builder.add_bytes("/usr/../../etc/x", b"")
    with pytest.raises(UnsafePath):
        builder.add_hardlink("/x", "/../etc/shadow")


def test_conflicts() -> None:
    builder = LayerBuilder()
    builder.add_bytes("etc/a", b"1")
    with pytest.raises(PathConflict, match="already added"):
        builder.add_bytes("/etc/a", b"2")
    builder.add_bytes("etc/a", b"3", replace=True)
    with pytest.raises(PathConflict, match="directory"):
        builder.add_bytes("etc/a/b", b"")
    with pytest.raises(PathConflict, match="entries below"):
        builder.add_bytes("etc", b"", replace=True)
    builder.add_directory("etc", mode=0o700)  # directories merge, the later metadata wins
    _, members = read_back(builder)
    entries = by_name(members)
    assert entries["etc"].info.mode == 0o700
    assert entries["etc/a"].data == b"3"


def test_missing_local_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        LayerBuilder().add_file(tmp_path / "nope", "x")


def test_whiteouts_sort_before_siblings() -> None:
    builder = LayerBuilder()
    builder.add_bytes("d/-dash", b"")
    builder.add_whiteout("d/-dash")
    builder.add_opaque("d")
    builder.add_bytes("d/!bang", b"")
    layer, members = read_back(builder)
    assert oracle.decompress(oracle.layer_blob(layer))[:3] == b"d/\0"  # directories end in /
    assert [m.name for m in members] == ["d", "d/.wh..wh..opq", "d/.wh.-dash", "d/!bang", "d/-dash"]


def test_same_digest_for_any_insertion_order_and_thread_count(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "big").write_bytes(random.Random(17).randbytes(3 * 1024 * 1024 + 17))

    def build(threads: int, reverse: bool) -> str:
        builder = LayerBuilder(threads=threads, source_date_epoch=1_700_000_000)
        steps = [
            lambda: builder.add_tree(tree, "opt/app"),
            lambda: builder.add_bytes("etc/x", b"x"),
            lambda: builder.add_symlink("usr/bin/app", "/opt/app/bin/tool"),
        ]
        for step in reversed(steps) if reverse else steps:
            step()
        return str(builder.build().digest)

    digests = {build(1, False), build(2, True), build(4, False)}
    assert len(digests) == 1


_names = st.text(alphabet="abcXYZ-_.é ", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..") and not s.startswith(".wh.")
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.dictionaries(
        st.lists(_names, min_size=1, max_size=3).map(tuple),
        st.binary(max_size=2000),
        max_size=12,
    ),
    seed=st.randoms(use_true_random=False),
)
def test_property_output_is_sorted_complete_and_order_independent(
    files: dict[tuple[str, ...], bytes], seed: object
) -> None:
    # Drop paths that would need a file to be a directory.
    paths = sorted(files)
    keep = {p: files[p] for p in paths if not any(q != p and p[: len(q)] == q for q in paths)}

    def build(order: list[tuple[str, ...]]) -> tuple[str, list[oracle.Member]]:
        builder = LayerBuilder(compression="none", source_date_epoch=None)
        for parts in order:
            builder.add_bytes("/".join(parts), keep[parts], mode=0o640)
        layer = builder.build()
        raw = oracle.layer_blob(layer)
        return str(layer.digest), oracle.members(raw)

    order = list(keep)
    digest1, members = build(order)
    seed.shuffle(order)  # type: ignore[attr-defined]
    digest2, _ = build(order)
    assert digest1 == digest2
    names = [tuple(m.name.rstrip("/").split("/")) for m in members]
    assert names == sorted(names, key=lambda t: [c.encode() for c in t])
    assert {n: m.data for n, m in zip(names, members, strict=True) if m.info.isreg()} == keep
    for m in members:
        if m.info.isdir():
            assert m.info.mode == 0o755


def test_ostree_commit_accepts_built_layer(tmp_path: Path) -> None:
    need("ostree")
    tree = make_tree(tmp_path / "tree")
    builder = LayerBuilder(compression="gzip")
    builder.add_tree(tree, "/usr/lib/app")
    builder.add_bytes(
        "usr/etc/app.conf", b"x\n", uid=1000, gid=1000, mode=0o640, xattrs={"user.test": b"value"}
    )
    builder.add_symlink("usr/bin/app", "../lib/app/bin/tool")
    repo = ostree_import(oracle.layer_blob(builder.build()), tmp_path / "ostree")
    listing = run(["ostree", "ls", f"--repo={repo}", "-R", "-X", "layer"]).stdout
    lines = {
        line.split()[-1] if "->" not in line else line.split()[-3]: line
        for line in listing.splitlines()
    }
    conf = lines["/usr/etc/app.conf"]
    assert conf.startswith("-00640 1000 1000"), conf
    assert "user.test" in conf
    assert lines["/usr/lib/app/bin/tool"].startswith("-00755 0 0")
    assert lines["/usr/bin/app"].startswith("l00777 0 0")
    cat = run(["ostree", "cat", f"--repo={repo}", "layer", "/usr/lib/app/bin/alias"]).stdout
    assert cat == "#!/bin/sh\necho hi\n"


def test_device_and_fifo_entries(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    os.mkfifo(tree / "pipe", 0o600)
    builder = LayerBuilder()
    builder.add_tree(tree, "run/x")
    _, members = read_back(builder)
    pipe = by_name(members)["run/x/pipe"].info
    assert pipe.isfifo()
    assert stat.S_IMODE(pipe.mode) == 0o600


def test_built_layer_reads_back_with_tarfile_types(tmp_path: Path) -> None:
    builder = LayerBuilder()
    builder.add_entry(TarHeader("long/" + "n" * 150, type=REG, size=1, uid=3_000_000), b"x")
    _, members = read_back(builder)
    member = by_name(members)["long/" + "n" * 150]
    assert member.data == b"x"
    assert member.info.uid == 3_000_000
    assert member.info.type == tarfile.REGTYPE
