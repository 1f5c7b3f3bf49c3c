"""bootc lint rules over small trees."""

from __future__ import annotations

from ociforge.ostree.lint import API_DIRECTORIES, lint_tree
from ociforge.tar.tree import TreeEntry

GOOD = {d: TreeEntry("dir") for d in API_DIRECTORIES} | {"/var/run": TreeEntry("symlink", "../run")}


def rules(tree: dict[str, TreeEntry]) -> set[tuple[str, str]]:
    return {(f.rule, f.severity) for f in lint_tree(tree)}


def test_clean_tree() -> None:
    assert lint_tree(GOOD) == []


def test_each_rule() -> None:
    assert ("var-run", "error") in rules({**GOOD, "/var/run": TreeEntry("dir")})
    assert ("etc-usretc", "error") in rules(
        {**GOOD, "/etc": TreeEntry("dir"), "/usr/etc": TreeEntry("dir")}
    )
    two = {f"/usr/lib/modules/{v}/vmlinuz": TreeEntry("file") for v in ("1", "2")}
    assert ("kernel", "error") in rules({**GOOD, **two})
    assert ("kernel", "error") not in rules(
        {**GOOD, "/usr/lib/modules/1/vmlinuz": TreeEntry("file")}
    )
    assert ("api-base-directories", "error") in rules(
        {k: v for k, v in GOOD.items() if k != "/sys"}
    )
    assert ("utf8", "error") in rules({**GOOD, "/usr/\udcff": TreeEntry("file")})
    assert ("utf8", "error") in rules({**GOOD, "/usr/l": TreeEntry("symlink", "\udcfe")})
    assert ("nonempty-boot", "warning") in rules(
        {**GOOD, "/boot": TreeEntry("dir"), "/boot/x": TreeEntry("file")}
    )
    assert ("nonempty-run-tmp", "warning") in rules({**GOOD, "/tmp/x": TreeEntry("file")})
    key = TreeEntry("file", head=b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert ("secrets", "error") in rules({**GOOD, "/etc/ssh/thing": key})
    assert ("secrets", "error") in rules({**GOOD, "/root/.ssh/id_ed25519": TreeEntry("file")})
    assert ("secrets", "error") in rules(
        {**GOOD, "/etc/pki/entitlement-host/1.pem": TreeEntry("file")}
    )
    public = TreeEntry("file", head=b"-----BEGIN PUBLIC KEY-----\n")
    assert rules({**GOOD, "/etc/pki/x.pub": public}) == set()
