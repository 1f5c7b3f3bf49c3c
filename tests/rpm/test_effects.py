"""Scriptlet effects end to end: presets, alternatives, and units one append both ships and enables.

Oracles: ``systemctl --root=DIR preset`` on the same base with rpm's own install of the package
(the links it creates must be the links our layer ships), and the chkconfig link layout for
alternatives (``LINK -> /etc/alternatives/NAME -> PATH``, state in the image's admin dir).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.support import rpmroot, rpms
from tests.support.cli import ociforge
from tests.support.tools import need, run

UNIT = "[Unit]\nDescription=agent\n[Service]\nExecStart=/usr/bin/true\n[Install]\nWantedBy=multi-user.target\n"

# %systemd_post agent.service as systemd >= 249 expands it (literally; Debian's rpmbuild has no
# Fedora macros).
SYSTEMD_POST = """\
%post
if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Initial installation
    /usr/lib/systemd/systemd-update-helper install-system-units agent.service || :
fi
"""

AGENT = rpms.Spec(
    name="agent",
    install="mkdir -p %{buildroot}/usr/lib/systemd/system\n"
    f"printf '{UNIT.replace(chr(10), chr(92) + 'n')}' > %{{buildroot}}/usr/lib/systemd/system/agent.service\n",
    files="/usr/lib/systemd/system/agent.service\n",
    scripts=SYSTEMD_POST,
)

NCAT = rpms.Spec(
    name="ncat",
    install="mkdir -p %{buildroot}/usr/bin\nprintf '#!/bin/sh\\n' > %{buildroot}/usr/bin/ncat\n"
    "chmod 0755 %{buildroot}/usr/bin/ncat\n",
    files="/usr/bin/ncat\n",
    scripts="%post\n/usr/sbin/alternatives --install /usr/bin/nc nc /usr/bin/ncat 10\n",
)


def base_archive(tmp: Path, *, preset: str) -> tuple[Path, Path]:
    root = rpmroot.make_root(tmp / "base")
    (root / "usr/lib/systemd/system-preset").mkdir(parents=True)
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system-preset/50-test.preset").write_text(preset)
    (root / "usr/lib/systemd/system/multi-user.target").write_text("[Unit]\n")
    archive = tmp / "base.ociarchive"
    rpmroot.write_base_archive(root, archive)
    return root, archive


def append(base: Path, out: Path, *args: str) -> dict[str, object]:
    result = ociforge("append", f"oci-archive:{base}", f"oci-archive:{out}", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def unpacked(archive: Path, into: Path) -> Path:
    result = ociforge("unpack", f"oci-archive:{archive}", str(into))
    assert result.code == 0, result.err
    return into / "rootfs"


def links_below(root: Path, directory: str) -> dict[str, str]:
    top = root / directory.lstrip("/")
    found = {}
    for path in sorted(top.rglob("*")) if top.exists() else []:
        if path.is_symlink():
            found["/" + str(path.relative_to(root))] = os.readlink(path)
    return found


def test_systemd_post_applies_the_images_presets_as_systemctl_does(tmp_path: Path) -> None:
    need("rpm", "rpmbuild", "systemctl")
    package = rpms.build(AGENT, tmp_path / "rpms")
    root, archive = base_archive(tmp_path, preset="enable agent.service\ndisable *\n")
    out = tmp_path / "out.ociarchive"
    doc = append(archive, out, "--rpm", str(package))
    assert any("presets enabled" in str(n) for n in doc["notes"]), doc["notes"]  # type: ignore[union-attr]
    ours = links_below(unpacked(out, tmp_path / "bundle"), "/etc/systemd/system")

    theirs_root = tmp_path / "theirs"
    shutil.copytree(root, theirs_root, symlinks=True)
    rpmroot.rpm_install(theirs_root, package)
    run(["systemctl", f"--root={theirs_root}", "preset", "agent.service"])
    theirs = links_below(theirs_root, "/etc/systemd/system")
    assert theirs, "systemctl created the link"
    assert ours == theirs


def test_a_disabling_preset_creates_no_link(tmp_path: Path) -> None:
    need("rpm", "rpmbuild")
    package = rpms.build(AGENT, tmp_path / "rpms")
    _root, archive = base_archive(tmp_path, preset="disable *\n")
    out = tmp_path / "out.ociarchive"
    append(archive, out, "--rpm", str(package))
    assert links_below(unpacked(out, tmp_path / "bundle"), "/etc/systemd/system") == {}


def test_alternatives_install_gives_the_chkconfig_links(tmp_path: Path) -> None:
    need("rpm", "rpmbuild")
    package = rpms.build(NCAT, tmp_path / "rpms")
    _root, archive = base_archive(tmp_path, preset="")
    out = tmp_path / "out.ociarchive"
    append(archive, out, "--rpm", str(package))
    rootfs = unpacked(out, tmp_path / "bundle")
    assert os.readlink(rootfs / "usr/bin/nc") == "/etc/alternatives/nc"
    assert os.readlink(rootfs / "etc/alternatives/nc") == "/usr/bin/ncat"
    state = (rootfs / "usr/lib/alternatives/nc").read_text().splitlines()
    assert state[:2] == ["auto", "/usr/bin/nc"]
    assert "/usr/bin/ncat" in state and "10" in state


def test_ignition_enables_a_unit_a_package_of_the_same_append_ships(tmp_path: Path) -> None:
    need("rpm", "rpmbuild")
    package = rpms.build(AGENT, tmp_path / "rpms")
    _root, archive = base_archive(tmp_path, preset="disable *\n")
    config = {
        "ignition": {"version": "3.4.0"},
        "systemd": {"units": [{"name": "agent.service", "enabled": True}]},
    }
    (tmp_path / "c.ign").write_text(json.dumps(config))
    out = tmp_path / "out.ociarchive"
    append(archive, out, "--rpm", str(package), "--ignition", str(tmp_path / "c.ign"))
    links = links_below(unpacked(out, tmp_path / "bundle"), "/etc/systemd/system")
    assert links == {
        "/etc/systemd/system/multi-user.target.wants/agent.service": "/usr/lib/systemd/system/agent.service"
    }
