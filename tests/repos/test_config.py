"""``.repo`` parsing, variables and enable/disable order, with dnf's own parser as the oracle."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from ociforge.errors import RepoError
from ociforge.repos.config import (
    RepoConfig,
    RepoToggle,
    parse_bool,
    parse_repo_file,
    parse_vars,
    repo_from_url,
    select_repos,
    substitute,
)
from tests.support.dnf import dnf_repo_configs

FEDORA = textwrap.dedent(
    """\
    [main]
    gpgcheck=0

    [fedora]
    name=Fedora $releasever - $basearch
    metalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch
    enabled=1
    gpgcheck=yes
    gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-$releasever-$basearch
      file:///etc/pki/rpm-gpg/other
    repo_gpgcheck=off
    priority=10
    cost = 500
    excludepkgs=kernel* foo,bar
    skip_if_unavailable=True

    # a comment
    ; another
    [updates-testing]
    name=Fedora $releasever - $basearch - Test Updates
    baseurl=http://a.example/${releasever}/x, http://b.example/$arch/$nope
       https://c.example/pub/$basearch
    enabled=0
    gpgcheck=1
    sslverify=no
    sslcacert=/etc/rhsm/ca/redhat-uep.pem
    sslclientcert=/etc/pki/entitlement/1.pem
    sslclientkey=/etc/pki/entitlement/1-key.pem
    includepkgs=agent libfoo*
    proxy=http://proxy.example:3128
    proxy_username=me
    exclude=junk

    [bare]
    mirrorlist=https://mirrors.example/list?arch=$basearch
    """
)
VARS = {"releasever": "40", "basearch": "x86_64", "arch": "x86_64"}


def test_fedora_style_file_reads_as_dnf_reads_it(tmp_path: Path) -> None:
    reposdir = tmp_path / "yum.repos.d"
    reposdir.mkdir()
    (reposdir / "fedora.repo").write_text(FEDORA)
    ours = parse_repo_file(FEDORA, source="fedora.repo", variables=VARS)
    theirs = dnf_repo_configs(reposdir, VARS, tmp_path / "home")
    assert (
        [r.id for r in ours] == [r["id"] for r in theirs] == ["fedora", "updates-testing", "bare"]
    )
    for mine, dnf in zip(ours, theirs, strict=True):
        as_dict = dataclasses.asdict(mine)
        for key, value in dnf.items():
            if key == "gpgcheck" and mine.id == "bare":
                # dnf's compiled default is off; ours follows Fedora's dnf.conf (on).
                assert value is False and as_dict[key] is True
                continue
            expected = tuple(value) if isinstance(value, list) else value
            assert as_dict[key] == expected, (mine.id, key)


def test_values_and_sources() -> None:
    fedora, testing, bare = parse_repo_file(
        FEDORA, source="/etc/yum.repos.d/f.repo", variables=VARS
    )
    assert fedora.metalink.endswith("repo=fedora-40&arch=x86_64")
    assert fedora.source == "/etc/yum.repos.d/f.repo:4"
    assert testing.baseurls == (
        "http://a.example/40/x",
        "http://b.example/x86_64/$nope",
        "https://c.example/pub/x86_64",
    )
    assert testing.excludepkgs == ("junk",)
    assert bare.name == "bare" and bare.priority == 99 and bare.enabled
    assert testing.proxy_username == "me" and testing.includepkgs == ("agent", "libfoo*")


def test_password_is_not_in_repr() -> None:
    (repo,) = parse_repo_file("[x]\nbaseurl=http://a\nusername=u\npassword=s3cret\n", source="x")
    assert repo.password == "s3cret"
    assert "s3cret" not in repr(repo)


def test_later_key_wins_and_keys_are_case_sensitive() -> None:
    (repo,) = parse_repo_file(
        "[x]\nbaseurl=http://a\nbaseurl=http://b\nPRIORITY=5\n", source="x.repo"
    )
    assert repo.baseurls == ("http://b",)
    assert repo.priority == 99


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[x]\nbaseurl: http://a\n", 2, "expected 'key=value'"),
        ("[x]\nbaseurl=http://a\njunk line\n", 3, "expected 'key=value'"),
        ("baseurl=http://a\n", 1, "before any [section]"),
        ("[x y]\nbaseurl=http://a\n", 1, "bad repository id"),
        ("[x\nbaseurl=http://a\n", 1, "no closing ']'"),
        ("[x]\nbaseurl=http://a\nenabled=maybe\n", 3, "enabled: 'maybe' is not a boolean"),
        ("[x]\nbaseurl=http://a\npriority=abc\n", 3, "priority: 'abc' is not an integer"),
        ("[x]\nname=n\n", 1, "no baseurl, metalink or mirrorlist"),
        ("[x]\nbaseurl=http://a\n\n[x]\nbaseurl=http://b\n", 4, "already defined at line 1"),
        ("[x]\nbaseurl=http://a\n\n  http://b\n", 4, "expected 'key=value'"),
    ],
)
def test_bad_files_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RepoError) as caught:
        parse_repo_file(text, source="/etc/yum.repos.d/bad.repo")
    message = str(caught.value)
    assert message.startswith(f"/etc/yum.repos.d/bad.repo:{line}:"), message
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("YES", True), ("true", True), ("On", True), ("0", False), ("no", False),
     ("False", False), ("off", False)],
)  # fmt: skip
def test_booleans(text: str, value: bool) -> None:
    assert parse_bool(text, what="x") is value


def test_substitution_forms() -> None:
    variables = {"releasever": "9", "basearch": "aarch64", "contentdir": "centos"}
    assert substitute("$contentdir/$releasever/${basearch}/os", variables) == "centos/9/aarch64/os"
    assert substitute("$unknown/${unknown}", variables) == "$unknown/${unknown}"
    assert substitute("$releasever_minor", variables) == "$releasever_minor"


def test_vars_files() -> None:
    assert parse_vars(
        {"contentdir": b"pub/fedora\nignored\n", "stream": b"9-stream", "x.rpmnew": b"z"}
    ) == {
        "contentdir": "pub/fedora",
        "stream": "9-stream",
    }


def test_repo_from_url() -> None:
    repo = repo_from_url("local=/srv/repo")
    assert repo.baseurls == ("file:///srv/repo",) and not repo.gpgcheck and repo.enabled
    assert repo_from_url("x=https://h/p").baseurls == ("https://h/p",)
    for bad in ("nourl", "=http://a", "x y=http://a", "x="):
        with pytest.raises(RepoError, match="--repo"):
            repo_from_url(bad)


def _repos(*ids: str, enabled: bool = True) -> tuple[RepoConfig, ...]:
    return tuple(RepoConfig(id=i, baseurls=("http://x",), enabled=enabled, source=i) for i in ids)


def test_toggles_apply_in_order_to_repos_defined_before_them() -> None:
    image = _repos("fedora", "updates", "fedora-cisco", enabled=True) + _repos(
        "testing", enabled=False
    )
    extra = _repos("mine")
    steps = [
        image,
        RepoToggle(False, "*"),
        RepoToggle(True, "fedora,testing"),
        extra,
        RepoToggle(False, "fedora"),
    ]
    assert [r.id for r in select_repos(steps)] == ["testing", "mine"]
    assert [r.id for r in select_repos([image, RepoToggle(False, "fedora*")])] == ["updates"]
    assert [r.id for r in select_repos([image, extra, RepoToggle(False, "*")])] == []


def test_enable_of_unknown_repo_is_an_error_disable_is_not() -> None:
    image = _repos("fedora")
    assert [r.id for r in select_repos([image, RepoToggle(False, "nosuch")])] == ["fedora"]
    with pytest.raises(
        RepoError, match=r"--enablerepo nosuch: no repository matches \(known: fedora\)"
    ):
        select_repos([image, RepoToggle(True, "nosuch")])


def test_duplicate_ids_across_sources() -> None:
    with pytest.raises(RepoError, match=r"defined twice: a\.repo:3 and --repo"):
        select_repos(
            [
                (RepoConfig(id="x", baseurls=("h",), source="a.repo:3"),),
                (repo_from_url("x=http://y"),),
            ]
        )
