import pytest

from ociforge.errors import PolicyError
from ociforge.ostree.accountmerge import id_map, merge_account_file

OLD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
NEW = OLD + "newsvc:x:500:500::/:/sbin/nologin\n"
ADDED = "tinyd:x:999:999:tiny daemon:/var/lib/tiny:/sbin/nologin\n"


def merge(kind: str, old: str, derived: str, new: str, *others: str) -> str:
    return merge_account_file(
        kind,  # type: ignore[arg-type]
        old=old,
        derived=derived,
        new=new,
        ids=id_map([new, *others]),
        path=f"/etc/{kind}",
    )


def test_added_user_goes_after_the_new_base_lines() -> None:
    assert merge("passwd", OLD, OLD + ADDED, NEW) == NEW + ADDED


def test_unchanged_new_base_gives_the_derived_file() -> None:
    assert merge("passwd", OLD, OLD + ADDED, OLD) == OLD + ADDED


def test_user_the_new_base_already_has_with_the_same_id_is_not_added_twice() -> None:
    usr_lib = "tinyd:x:999:999::/:/sbin/nologin\n"
    assert merge("passwd", OLD, OLD + ADDED, NEW, usr_lib) == NEW


@pytest.mark.parametrize(
    ("new", "others", "message"),
    [
        (NEW + "other:x:999:999::/:/sbin/nologin\n", (), "uid 999 of user tinyd .* user other"),
        (NEW, ("other:x:999:999::/:/sbin/nologin\n",), "uid 999 of user tinyd .* user other"),
        (NEW + "tinyd:x:990:990::/:/sbin/nologin\n", (), "tinyd is uid 999 .* but 990"),
    ],
)
def test_clashes_are_refused(new: str, others: tuple[str, ...], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        merge("passwd", OLD, OLD + ADDED, new, *others)


def test_group_members_added_on_both_sides_are_merged() -> None:
    old = "root:x:0:\nwheel:x:10:\n"
    derived = "root:x:0:\nwheel:x:10:core\ntinyd:x:999:\n"
    new = "root:x:0:\nwheel:x:10:admin\n"
    assert merge("group", old, derived, new) == "root:x:0:\nwheel:x:10:admin,core\ntinyd:x:999:\n"


def test_gid_clash_and_conflicting_changes() -> None:
    with pytest.raises(PolicyError, match=r"gid 999 of group tinyd .* group other"):
        merge("group", "root:x:0:\n", "root:x:0:\ntinyd:x:999:\n", "root:x:0:\nother:x:999:\n")
    derived = OLD.replace("/bin/bash", "/bin/zsh")
    new = NEW.replace("/bin/bash", "/bin/fish")
    with pytest.raises(PolicyError, match="user root was changed by the derived image and by"):
        merge("passwd", OLD, derived, new)
    # The same change on both sides is no conflict.
    assert merge("passwd", OLD, derived, derived) == derived


def test_removed_entries_and_shadow() -> None:
    assert merge("passwd", OLD, "root:x:0:0:root:/root:/bin/bash\n", NEW) == (
        "root:x:0:0:root:/root:/bin/bash\nnewsvc:x:500:500::/:/sbin/nologin\n"
    )
    shadow_old = "root:*::::::\n"
    shadow_new = shadow_old + "newsvc:!!:::::::\n"
    derived = shadow_old + "tinyd:!!:::::::\n"
    # ids are the new base's users: tinyd is new there, so its shadow line is added.
    assert merge("shadow", shadow_old, derived, shadow_new) == shadow_new + "tinyd:!!:::::::\n"
    ids = id_map([NEW + "tinyd:x:999:999::/:/sbin/nologin\n"])
    out = merge_account_file(
        "shadow", old=shadow_old, derived=derived, new=shadow_new, ids=ids, path="/etc/shadow"
    )
    assert out == shadow_new  # the new base has the user already, without a password line


def test_comments_and_no_trailing_newline_are_kept() -> None:
    new = "# system users\nroot:x:0:0::/root:/bin/sh"
    assert merge("passwd", "root:x:0:0::/root:/bin/sh\n", "root:x:0:0::/root:/bin/sh\n", new) == new
