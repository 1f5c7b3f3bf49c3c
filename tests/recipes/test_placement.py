"""One placement rule for --add, --ignition and --rpm on a CoreOS-shaped base (/opt, /usr/local).

The oracle for "what a machine sees" is systemd's own ``systemd-tmpfiles --root=ROOT --create``
run over the unpacked result (what happens at boot), plus the unpacked tree itself: the base's
``/opt`` and ``/usr/local`` symlinks must survive every input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ociforge import empty_image, save_image
from tests.support import rpmroot, rpms
from tests.support.cli import assert_clean_error, ociforge
from tests.support.tools import need, run


@pytest.fixture
def base(tmp_path: Path) -> Path:
    need("rpm")
    root = rpmroot.make_root(tmp_path / "root")
    archive = tmp_path / "base.ociarchive"
    rpmroot.write_base_archive(root, archive)
    return archive


def unpacked(archive: Path, into: Path) -> Path:
    result = ociforge("unpack", f"oci-archive:{archive}", str(into))
    assert result.code == 0, result.err
    return into / "rootfs"


def inside(rootfs: Path, path: str, hops: int = 0) -> Path:
    """``path`` resolved as the machine would, with ``rootfs`` as ``/`` (absolute links too)."""
    assert hops < 40, "symlink loop"
    done = rootfs
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        candidate = done / part
        if candidate.is_symlink():
            target = os.readlink(candidate)
            base = "" if target.startswith("/") else "/" + str(done.relative_to(rootfs))
            rest = "/".join(parts[i + 1 :])
            return inside(rootfs, f"{base}/{target}/{rest}", hops + 1)
        done = candidate
    return done


def boot(rootfs: Path) -> None:
    """What systemd-tmpfiles-setup does at boot, on the unpacked tree."""
    need("systemd-tmpfiles")
    confs = sorted((rootfs / "usr/lib/tmpfiles.d").glob("ociforge-*.conf"))
    assert confs, "the layer ships a tmpfiles.d fragment"
    run(["systemd-tmpfiles", f"--root={rootfs}", "--create", *map(str, confs)])


def test_add_through_opt_and_usr_local_keeps_the_links_and_reaches_the_machine(
    tmp_path: Path, base: Path
) -> None:
    (tmp_path / "vendor/bin").mkdir(parents=True)
    (tmp_path / "vendor/bin/agent").write_text("#!/bin/sh\necho agent\n")
    (tmp_path / "tool").write_text("#!/bin/sh\necho tool\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "state").write_text("seed\n")
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--add",
        f"{tmp_path / 'vendor'}:/opt/vendor",
        "--add",
        f"{tmp_path / 'tool'}:/usr/local/bin/tool",
        "--add",
        f"{tmp_path / 'state'}:/var/lib/app/state",
        "--json",
    )
    assert result.code == 0, result.err
    notes = json.loads(result.out)["notes"]
    assert any("/usr/lib/opt/vendor" in note for note in notes), notes
    rootfs = unpacked(out, tmp_path / "bundle")
    assert os.readlink(rootfs / "opt") == "var/opt"  # never replaced by a directory
    assert os.readlink(rootfs / "usr/local") == "../var/usrlocal"
    assert (rootfs / "usr/lib/opt/vendor/bin/agent").read_text() == "#!/bin/sh\necho agent\n"
    boot(rootfs)
    # At boot the machine has every file where the user put it, content included.
    assert inside(rootfs, "/opt/vendor/bin/agent").read_text() == "#!/bin/sh\necho agent\n"
    assert inside(rootfs, "/usr/local/bin/tool").read_text() == "#!/bin/sh\necho tool\n"
    assert os.stat(inside(rootfs, "/usr/local/bin/tool")).st_mode & 0o111
    assert inside(rootfs, "/var/lib/app/state").read_text() == "seed\n"


def test_ignition_through_opt_is_placed_like_add(tmp_path: Path, base: Path) -> None:
    config = {
        "ignition": {"version": "3.4.0"},
        "storage": {
            "files": [
                {"path": "/opt/app/config.toml", "contents": {"source": "data:,x%3D1%0A"}},
            ]
        },
    }
    (tmp_path / "c.ign").write_text(json.dumps(config))
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append", f"oci-archive:{base}", f"oci-archive:{out}", "--ignition", str(tmp_path / "c.ign")
    )
    assert result.code == 0, result.err
    rootfs = unpacked(out, tmp_path / "bundle")
    assert os.readlink(rootfs / "opt") == "var/opt"
    assert (rootfs / "usr/lib/opt/app/config.toml").read_text() == "x=1\n"
    boot(rootfs)
    assert inside(rootfs, "/opt/app/config.toml").read_text() == "x=1\n"


def test_a_directory_at_the_opt_link_keeps_the_link(tmp_path: Path, base: Path) -> None:
    (tmp_path / "optdir/app").mkdir(parents=True)
    (tmp_path / "optdir/app/run").write_text("r\n")
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--add",
        f"{tmp_path / 'optdir'}:/opt",
    )
    assert result.code == 0, result.err
    rootfs = unpacked(out, tmp_path / "bundle")
    assert os.readlink(rootfs / "opt") == "var/opt"
    assert (rootfs / "usr/lib/opt/app/run").read_text() == "r\n"


def test_usr_etc_is_refused_and_nothing_is_written(tmp_path: Path, base: Path) -> None:
    (tmp_path / "x.conf").write_text("x\n")
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--add",
        f"{tmp_path / 'x.conf'}:/usr/etc/x.conf",
    )
    assert_clean_error(result, "/usr/etc/x.conf", "/etc/")
    assert not out.exists()


def test_package_content_in_usr_local_is_refused_not_emptied(tmp_path: Path, base: Path) -> None:
    """The sops case: an RPM shipping /usr/local/bin/sops must not become an empty executable."""
    need("rpmbuild")
    spec = rpms.Spec(
        name="sops",
        install="mkdir -p %{buildroot}/usr/local/bin\n"
        "printf '#!/bin/sh\\necho sops\\n' > %{buildroot}/usr/local/bin/sops\n"
        "chmod 0755 %{buildroot}/usr/local/bin/sops\n",
        files="/usr/local/bin/sops\n",
    )
    package = rpms.build(spec, tmp_path / "rpms")
    out = tmp_path / "out.ociarchive"
    before = base.read_bytes()
    result = ociforge("append", f"oci-archive:{base}", f"oci-archive:{out}", "--rpm", str(package))
    assert_clean_error(result, "sops", "/usr/local/bin/sops", "/usr")
    assert not out.exists()
    assert base.read_bytes() == before


def test_non_bootable_images_take_paths_as_given(tmp_path: Path) -> None:
    """A release payload or any other non-OS image has no ostree rules."""
    scratch = tmp_path / "scratch.ociarchive"
    save_image(empty_image(), f"oci-archive:{scratch}")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests/image-references").write_text("{}")
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{scratch}",
        f"oci-archive:{out}",
        "--add",
        f"{tmp_path / 'manifests'}:/release-manifests",
    )
    assert result.code == 0, result.err
    rootfs = unpacked(out, tmp_path / "bundle")
    assert (rootfs / "release-manifests/image-references").read_text() == "{}"
