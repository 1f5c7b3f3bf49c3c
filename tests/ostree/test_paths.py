"""ostree placement rules over a base view."""

from __future__ import annotations

import pytest

from ociforge.errors import PolicyError
from ociforge.ostree.paths import place
from ociforge.tar.tree import TreeEntry


class View:
    def __init__(self, entries: dict[str, TreeEntry]) -> None:
        self.entries = entries

    def entry(self, path: str) -> TreeEntry | None:
        return self.entries.get(path)


COREOS = View(
    {
        "/opt": TreeEntry("symlink", "var/opt"),
        "/usr/local": TreeEntry("symlink", "../var/usrlocal"),
        "/bin": TreeEntry("symlink", "usr/bin"),
        "/lib64": TreeEntry("symlink", "/usr/lib64"),
        "/usr": TreeEntry("dir"),
    }
)


@pytest.mark.parametrize(
    ("path", "how", "where"),
    [
        ("/usr/bin/x", "layer", "/usr/bin/x"),
        ("/etc/x.conf", "layer", "/etc/x.conf"),
        ("/var/lib/x", "tmpfiles", "/var/lib/x"),
        ("/run/x", "tmpfiles", "/run/x"),
        ("/opt/app/bin/x", "layer", "/usr/lib/opt/app/bin/x"),
        ("/boot/vmlinuz-1", "layer", "/usr/lib/ostree-boot/vmlinuz-1"),
        ("/bin/sh", "layer", "/usr/bin/sh"),
        ("/lib64/libx.so", "layer", "/usr/lib64/libx.so"),
        ("/usr/local/bin/x", "tmpfiles", "/var/usrlocal/bin/x"),
        ("/tmp/x", "dropped", "/tmp/x"),
    ],
)
def test_coreos_rules(path: str, how: str, where: str) -> None:
    placement = place(path, COREOS)
    assert (placement.how, placement.path) == (how, where)
    assert bool(placement.note) == (path != where or how != "layer")


def test_opt_gets_a_tmpfiles_link() -> None:
    assert place("/opt/app/x", COREOS).links == ("L /var/opt/app - - - - /usr/lib/opt/app",)


def test_real_opt_is_kept() -> None:
    assert place("/opt/app/x", View({})).path == "/opt/app/x"


def test_etc_never_becomes_usr_etc() -> None:
    assert place("/etc/foo", COREOS).path == "/etc/foo"


@pytest.mark.parametrize("path", ["/srv/www/index.html", "/home/user/x", "/media/x"])
def test_other_toplevels_refused(path: str) -> None:
    with pytest.raises(PolicyError, match="outside /usr"):
        place(path, View({}))


def test_symlink_loop_is_an_error() -> None:
    loop = View({"/a": TreeEntry("symlink", "b"), "/b": TreeEntry("symlink", "a")})
    with pytest.raises(PolicyError, match="symbolic links"):
        place("/a/x", loop)
