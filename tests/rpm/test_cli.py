"""``ociforge append --rpm`` and ``ociforge lint`` as a user runs them: exit codes, one-line errors."""

from __future__ import annotations

import json
import struct
import tarfile
from pathlib import Path

import pytest

from ociforge.transports import open_image
from tests.support import rpmroot, rpms
from tests.support.cli import assert_clean_error, ociforge
from tests.support.tools import need, ostree_import, run


@pytest.fixture
def base_archive(tmp_path: Path, rpm_dir: Path) -> Path:
    root = rpmroot.make_root(tmp_path / "base")
    rpmroot.rpm_install(root, rpms.build(rpms.DEPS, rpm_dir))
    archive = tmp_path / "base.ociarchive"
    labels = {
        "containers.bootc": "1",
        "ostree.bootable": "true",
        "ostree.final-diffid": "sha256:" + "0" * 64,
        "ostree.commit": "a" * 64,
    }
    rpmroot.write_base_archive(root, archive, labels=labels)
    return archive


def test_append_rpm_and_file_in_one_layer(
    tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    motd = tmp_path / "motd"
    motd.write_text("hello\n")
    libtiny = rpms.build(rpms.LDCONFIG, rpm_dir)
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{base_archive}",
        f"oci-archive:{out}",
        "--rpm",
        str(tiny_rpms["zstd"]),
        "--rpm",
        str(libtiny),
        "--add",
        f"{motd}:/etc/motd",
        "--json",
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["packages"] == ["tiny-1.0-1.x86_64", "libtiny-1.0-1.x86_64"]
    base = open_image(f"oci-archive:{base_archive}")
    image = open_image(f"oci-archive:{out}")
    assert str(image.digest) == doc["digest"]
    assert len(image.layers) == len(base.layers) + 1
    assert image.layers[: len(base.layers)] == base.layers
    for key in ("containers.bootc", "ostree.bootable", "ostree.final-diffid", "ostree.commit"):
        assert image.labels[key] == base.labels[key]
    history = image.config.json()["history"]
    assert len(history) == len(base.config.json()["history"]) + 1
    assert "tiny-1.0-1.x86_64" in history[-1]["created_by"]
    assert "libtiny-1.0-1.x86_64" in history[-1]["created_by"]
    with image.layers[-1].open_compressed() as fh:
        blob = fh.read()
    # ostree accepts the layer, as ostree-ext's import of a derived layer would run it.
    repo = ostree_import(blob, tmp_path / "ostree")
    listing = run(["ostree", f"--repo={repo}", "ls", "-R", "layer"]).stdout
    for path in (
        "/etc/motd",
        "/usr/bin/tinycap",
        "/usr/share/tiny/owned",
        "/usr/lib64/libtiny.so.1",
        "/usr/share/rpm/rpmdb.sqlite",
        "/usr/lib/tmpfiles.d/ociforge-tiny.conf",
    ):
        assert path in listing, path
    xattrs = run(["ostree", f"--repo={repo}", "ls", "-X", "layer", "/usr/bin/tinycap"]).stdout
    assert "security.capability" in xattrs


def test_notes_on_stderr(tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]) -> None:
    result = ociforge(
        "append",
        f"oci-archive:{base_archive}",
        f"oci-archive:{tmp_path / 'o'}",
        "--rpm",
        str(tiny_rpms["xz"]),
    )
    assert result.code == 0, result.err
    assert result.out.strip().startswith("sha256:")
    assert "ociforge: note: tiny-1.0-1.x86_64: %pre not run (accounts taken from it)" in result.err
    assert "becomes a tmpfiles.d entry" in result.err


def _flip(path: Path, tmp: Path, offset: int) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    out = tmp / ("bad-" + path.name)
    out.write_bytes(bytes(data))
    return out


def _append(base: Path, out: Path, *args: str) -> object:
    return ociforge("append", f"oci-archive:{base}", f"oci-archive:{out}", *args)


def test_bad_lead_magic_cli(tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]) -> None:
    out = tmp_path / "out.ociarchive"
    result = _append(base_archive, out, "--rpm", str(_flip(tiny_rpms["zstd"], tmp_path, 0)))
    assert_clean_error(result, "bad lead magic")  # type: ignore[arg-type]
    assert not out.exists()


def test_truncated_rpm_cli(tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]) -> None:
    cut = tmp_path / "cut.rpm"
    cut.write_bytes(tiny_rpms["zstd"].read_bytes()[:500])
    out = tmp_path / "out.ociarchive"
    assert_clean_error(_append(base_archive, out, "--rpm", str(cut)), "truncated")  # type: ignore[arg-type]
    assert not out.exists()


def test_payload_tampering_cli(
    tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]
) -> None:
    bad = tmp_path / "bad.rpm"
    bad.write_bytes(tiny_rpms["zstd"].read_bytes() + struct.pack("<II", 0x184D2A50, 4) + b"evil")
    out = tmp_path / "out.ociarchive"
    assert_clean_error(_append(base_archive, out, "--rpm", str(bad)), "PAYLOADSHA256")  # type: ignore[arg-type]
    assert not out.exists()
    assert not list(tmp_path.glob("out.ociarchive*"))


def test_signature_options_cli(
    tmp_path: Path,
    base_archive: Path,
    signed_rpms: dict[str, Path],
    rsa_key: rpms.Key,
    ed25519_key: rpms.Key,
) -> None:
    out = tmp_path / "out.ociarchive"
    ok = _append(
        base_archive,
        out,
        "--rpm",
        str(signed_rpms["rsa"]),
        "--rpm-key",
        str(rsa_key.public),
        "--require-signatures",
    )
    assert ok.code == 0, ok.err  # type: ignore[attr-defined]
    wrong = _append(
        base_archive,
        tmp_path / "o2",
        "--rpm",
        str(signed_rpms["rsa"]),
        "--rpm-key",
        str(ed25519_key.public_binary),
        "--require-signatures",
    )
    assert_clean_error(wrong, "unknown key")  # type: ignore[arg-type]
    data = bytearray(signed_rpms["rsa"].read_bytes())
    # The RSA signature value sits at the end of the signature header's RSAHEADER entry.
    il = struct.unpack(">I", data[96 + 8 : 96 + 12])[0]
    store = 96 + 16 + 16 * il
    for i in range(il):
        tag, _t, off, cnt = struct.unpack(">IIiI", data[96 + 16 + 16 * i : 96 + 32 + 16 * i])
        if tag == 268:
            data[store + off + cnt - 2] ^= 0x01
    bad = tmp_path / "badsig.rpm"
    bad.write_bytes(bytes(data))
    result = _append(
        base_archive, tmp_path / "o3", "--rpm", str(bad), "--rpm-key", str(rsa_key.public)
    )
    assert_clean_error(result, "BAD signature")  # type: ignore[arg-type]


def test_kernel_and_scriptlets_cli(tmp_path: Path, base_archive: Path, rpm_dir: Path) -> None:
    kernel = rpms.build(rpms.KERNEL, rpm_dir)
    result = _append(base_archive, tmp_path / "o", "--rpm", str(kernel))
    assert_clean_error(result, "kernel package", "dracut", "--allow-kernel")  # type: ignore[arg-type]
    assert _append(base_archive, tmp_path / "o", "--rpm", str(kernel), "--allow-kernel").code == 0  # type: ignore[attr-defined]
    scripted = rpms.build(rpms.SCRIPTED, rpm_dir)
    result = _append(base_archive, tmp_path / "o2", "--rpm", str(scripted))
    assert_clean_error(result, "scripted-1.0-1.x86_64", "%post", "--skip-scriptlets")  # type: ignore[arg-type]
    result = _append(base_archive, tmp_path / "o2", "--rpm", str(scripted), "--skip-scriptlets")
    assert result.code == 0  # type: ignore[attr-defined]
    assert "%post NOT RUN" in result.err  # type: ignore[attr-defined]


def test_strict_fails_on_lint_findings(tmp_path: Path, base_archive: Path, rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name="leaky",
        install=(
            "mkdir -p %{buildroot}/etc/pki/entitlement\n"
            "printf -- '-----BEGIN PRIVATE KEY-----\\nMII\\n' > %{buildroot}/etc/pki/entitlement/1-key.pem\n"
        ),
        files="/etc/pki/entitlement/1-key.pem\n",
    )
    leaky = rpms.build(spec, rpm_dir)
    refused = _append(base_archive, tmp_path / "o", "--rpm", str(leaky))
    assert_clean_error(refused, "secrets: /etc/pki/entitlement/1-key.pem", "--allow-lint-errors")  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()
    warned = _append(base_archive, tmp_path / "o", "--rpm", str(leaky), "--allow-lint-errors")
    assert warned.code == 0  # type: ignore[attr-defined]
    assert "ociforge: warning: lint: error: secrets: /etc/pki/entitlement/1-key.pem" in warned.err  # type: ignore[attr-defined]
    strict = _append(base_archive, tmp_path / "o2", "--rpm", str(leaky), "--strict")
    assert_clean_error(strict, "--strict", "secrets")  # type: ignore[arg-type]
    assert not (tmp_path / "o2").exists()


def test_lint_cli_flags_each_rule(tmp_path: Path) -> None:
    root = rpmroot.make_root(tmp_path / "bad", coreos=False)
    (root / "usr/etc").mkdir()  # etc-usretc
    (root / "var/run").mkdir()  # var-run: a directory, not a link
    for kver in ("6.1.0", "6.2.0"):  # kernel: two of them
        (root / f"usr/lib/modules/{kver}").mkdir(parents=True)
        (root / f"usr/lib/modules/{kver}/vmlinuz").write_bytes(b"k")
    (root / "proc").rmdir()  # api-base-directories
    (root / "boot/loader").mkdir()  # nonempty-boot
    (root / "run/stuff").write_text("x")  # nonempty-run-tmp
    (root / "tmp/junk").write_text("x")
    (root / "etc/rhsm").mkdir()
    (root / "etc/rhsm/key.pem").write_text("x")  # secrets
    (root / "etc/pki/entitlement").mkdir(parents=True)
    (root / "etc/pki/entitlement/123.pem").write_text("cert")
    (root / "etc/ssl").mkdir()
    (root / "etc/ssl/server.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n")
    (
        root
        / "usr/share/bad\udcff".encode("utf-8", "surrogateescape").decode(
            "utf-8", "surrogateescape"
        )
    ).write_text("x")
    archive = tmp_path / "bad.ociarchive"
    rpmroot.write_base_archive(root, archive)
    result = ociforge("lint", f"oci-archive:{archive}")
    assert_clean_error(result, "lint finding")
    for expected in (
        "error: etc-usretc: /usr/etc",
        "error: var-run: /var/run",
        "error: kernel:",
        "error: api-base-directories: /proc",
        "warning: nonempty-boot: /boot/loader",
        "warning: nonempty-run-tmp: /run/stuff",
        "warning: nonempty-run-tmp: /tmp/junk",
        "error: secrets: /etc/rhsm/key.pem",
        "error: secrets: /etc/pki/entitlement/123.pem",
        "error: secrets: /etc/ssl/server.pem",
        "error: utf8: /usr/share/bad",
    ):
        assert expected in result.out, expected


def test_lint_cli_clean_image(tmp_path: Path) -> None:
    root = rpmroot.make_root(tmp_path / "good")
    archive = tmp_path / "good.ociarchive"
    rpmroot.write_base_archive(root, archive)
    result = ociforge("lint", f"oci-archive:{archive}")
    assert result.code == 0, result.out + result.err
    assert result.out == ""
    need("rpm")


def test_tampered_base_layer_gives_no_output(
    tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]
) -> None:
    # append scans base layers without hashing them; the archive writer's check must still stop it.
    image = open_image(f"oci-archive:{base_archive}")
    digest = image.layers[0].digest.encoded
    data = bytearray(base_archive.read_bytes())
    at = bytes(data).index(digest.encode())  # the member name; its data follows the header block
    start = at - (at % 512) + 512
    data[start + 5000] ^= 0xFF
    bad = tmp_path / "tampered.ociarchive"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.ociarchive"
    result = _append(bad, out, "--rpm", str(tiny_rpms["zstd"]))
    assert result.code != 0  # type: ignore[attr-defined]
    assert "Traceback" not in result.err  # type: ignore[attr-defined]
    assert not out.exists()


def test_no_verify_still_checks_the_base_it_derives_from(
    tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]
) -> None:
    """--no-verify turns the writer's re-hash off; the base an RPM layer is derived from is then
    checked while it is read. The tampering here keeps the gzip stream valid (its header mtime),
    so only a digest check can notice it."""
    image = open_image(f"oci-archive:{base_archive}")
    digest = image.layers[0].digest.encoded
    with tarfile.open(base_archive) as tf:
        start = next(m for m in tf.getmembers() if m.name.endswith(digest)).offset_data
    data = bytearray(base_archive.read_bytes())
    assert data[start : start + 2] == b"\x1f\x8b"
    data[start + 4] ^= 0xFF  # gzip header MTIME: decompresses the same, hashes differently
    bad = tmp_path / "tampered.ociarchive"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.ociarchive"
    result = _append(bad, out, "--rpm", str(tiny_rpms["zstd"]), "--no-verify")
    assert_clean_error(result, digest)  # type: ignore[arg-type]
    assert not out.exists()


def test_append_add_only_and_lint_json(tmp_path: Path, base_archive: Path) -> None:
    motd = tmp_path / "motd"
    motd.write_text("hi\n")
    out = tmp_path / "out.ociarchive"
    result = _append(base_archive, out, "--add", f"{motd}:/etc/motd")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert len(open_image(f"oci-archive:{out}").layers) == 2
    assert_clean_error(_append(base_archive, tmp_path / "o2"), "nothing to append")  # type: ignore[arg-type]
    lint = ociforge("lint", "--json", f"oci-archive:{out}")
    assert lint.code == 0, lint.err
    assert json.loads(lint.out)["findings"] == [] and json.loads(lint.out)["errors"] == 0


def test_installcolor_follows_the_image_architecture(
    tmp_path: Path, base_archive: Path, tiny_rpms: dict[str, Path]
) -> None:
    """An amd64 image gets what rpm records on x86_64 (the OCI name is mapped to rpm's)."""
    need("rpm")
    out = tmp_path / "out.ociarchive"
    assert (
        ociforge(
            "append",
            f"oci-archive:{base_archive}",
            f"oci-archive:{out}",
            "--rpm",
            str(tiny_rpms["zstd"]),
        ).code
        == 0
    )
    assert open_image(f"oci-archive:{out}").config.architecture == "amd64"
    ours = rpmroot.make_root(tmp_path / "ours")
    for layer in open_image(f"oci-archive:{out}").layers:
        with layer.open_uncompressed() as fh:
            rpmroot.apply_tar(ours, fh.read())
    theirs = rpmroot.make_root(tmp_path / "theirs")
    rpmroot.rpm_install(theirs, tiny_rpms["zstd"])
    query = ["-q", "--qf", "%{INSTALLCOLOR}", "tiny"]
    env = rpms.env(tmp_path)
    color = [
        run(["rpm", "--root", str(r), "--dbpath", "/usr/share/rpm", *query], env=env).stdout
        for r in (ours, theirs)
    ]
    assert color[0] == color[1], color
