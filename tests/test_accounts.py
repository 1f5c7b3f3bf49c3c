"""passwd/group resolution and sysusers allocation."""

from __future__ import annotations

import pytest

from ociforge.errors import PolicyError
from ociforge.ostree.accounts import (
    Accounts,
    SysusersEntry,
    decode_sysusers_provide,
    parse_sysusers_line,
)
from tests.support.rpms import sysusers_evr


def test_etc_first_then_usr_lib() -> None:
    accounts = Accounts(
        ["a:x:10:10::/:/bin/sh\n", "a:x:20:20::/:/bin/sh\nb:x:30:31::/:/x\n"],
        ["g:x:40:\n", "g:x:50:\nh:x:60:\n"],
    )
    assert (accounts.uid("a"), accounts.uid("b"), accounts.uid("c")) == (10, 30, None)
    assert (accounts.gid("g"), accounts.gid("h")) == (40, 60)


def test_sysusers_allocation_downward_and_pinned() -> None:
    accounts = Accounts(["root:x:0:0::/:/bin/sh\nu1:x:999:999::/:/x\n"], ["root:x:0:\nu1:x:999:\n"])
    created = accounts.create(
        [SysusersEntry("u", "svc", "-", "Service", "/var/lib/svc", "")], source="p"
    )
    assert created.passwd == ("svc:x:998:998:Service:/var/lib/svc:/usr/sbin/nologin",)
    assert created.group == ("svc:x:998:",)
    assert created.sysusers == ("u svc 998:998 Service /var/lib/svc /usr/sbin/nologin",)
    again = accounts.create([SysusersEntry("u", "svc")], source="p")
    assert again.passwd == ()


def test_group_then_user_with_that_group() -> None:
    accounts = Accounts([""], [""])
    created = accounts.create(
        [SysusersEntry("g", "grp", "-"), SysusersEntry("u", "usr", "-:grp")], source="p"
    )
    assert created.group == ("grp:x:999:",)
    assert created.passwd == ("usr:x:999:999::/:/usr/sbin/nologin",)
    with pytest.raises(PolicyError, match="no group"):
        accounts.create([SysusersEntry("u", "other", "-:nogroup")], source="p")


def test_decode_rpm_sysusers_provide() -> None:
    line = 'u tinyd - "tiny daemon" /var/lib/tiny /sbin/nologin'
    entry = decode_sysusers_provide("user(tinyd)", sysusers_evr(line), what="t")
    assert entry == SysusersEntry(
        "u", "tinyd", "-", "tiny daemon", "/var/lib/tiny", "/sbin/nologin"
    )
    assert decode_sysusers_provide("tiny", "1.0-1", what="t") is None
    assert parse_sysusers_line("# comment") is None
    assert parse_sysusers_line("g wheel 10") == SysusersEntry("g", "wheel", "10")


def test_root_without_account_files() -> None:
    # rpm's rpmugUid/rpmugGid answer 0 for "root" without looking anything up.
    accounts = Accounts([], [])
    assert (accounts.uid("root"), accounts.gid("root"), accounts.uid("daemon")) == (0, 0, None)
