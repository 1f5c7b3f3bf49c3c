"""The harmless-scriptlet set and useradd/groupadd translation, on real rpmbuild headers."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from ociforge.errors import PolicyError
from ociforge.ostree.accounts import SysusersEntry
from ociforge.rpm.package import read_package
from ociforge.rpm.scriptlets import plan_scriptlets
from tests.support import rpms


def header_of(spec: rpms.Spec, rpm_dir: Path) -> object:
    with rpms.build(spec, rpm_dir).open("rb") as fh:
        return read_package(fh).header


SYSTEMD_POST = """%post
if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then
    # Initial installation
    /usr/lib/systemd/systemd-update-helper install-system-units foo.service || :
fi
/sbin/ldconfig
"""


@pytest.mark.parametrize(
    ("scripts", "harmless"),
    [
        (SYSTEMD_POST, True),
        ("%post -p /sbin/ldconfig\n", True),
        ("%pre\nexit 0\n", True),
        ("%posttrans\nrm -rf /etc/foo\n", False),
        ("%post -p <lua>\nprint('x')\n", False),
        ("%pretrans\n:\n", True),
        ("%triggerin -- bash\nsed -i s/a/b/ /etc/shells\n", False),
        ("%postun\nrm -rf /\n", True),  # erase-time: never runs on install
    ],
)
def test_classification(scripts: str, harmless: bool, rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name=f"s{zlib.crc32(scripts.encode())}",
        scripts=scripts,
        install="mkdir -p %{buildroot}/usr/share/s\necho > %{buildroot}/usr/share/s/f\n",
        files="/usr/share/s/f\n",
    )
    header = header_of(spec, rpm_dir)
    if harmless:
        plan_scriptlets(header, package="p", skip=False)  # type: ignore[arg-type]
    else:
        with pytest.raises(PolicyError, match="--skip-scriptlets"):
            plan_scriptlets(header, package="p", skip=False)  # type: ignore[arg-type]
        plan = plan_scriptlets(header, package="p", skip=True)  # type: ignore[arg-type]
        assert any("NOT RUN" in line for line in plan.skipped)


def test_useradd_lines_become_accounts(rpm_dir: Path) -> None:
    plan = plan_scriptlets(header_of(rpms.TINY, rpm_dir), package="tiny", skip=False)  # type: ignore[arg-type]
    assert plan.accounts == (
        SysusersEntry("g", "tinyd", "-"),
        SysusersEntry("u", "tinyd", "-:tinyd", "tiny daemon", "/var/lib/tiny", "/sbin/nologin"),
    )


def test_useradd_without_name_is_not_harmless(rpm_dir: Path) -> None:
    spec = rpms.Spec(
        name="badpre",
        scripts="%pre\nuseradd -r\n",
        install="mkdir -p %{buildroot}/usr/share/b\necho > %{buildroot}/usr/share/b/f\n",
        files="/usr/share/b/f\n",
    )
    with pytest.raises(PolicyError, match="useradd -r"):
        plan_scriptlets(header_of(spec, rpm_dir), package="badpre", skip=False)  # type: ignore[arg-type]
