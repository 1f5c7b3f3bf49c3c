"""Unit names, lookup and ``[Install]`` links (the oracle comparisons are in test_presets.py)."""

from __future__ import annotations

import pytest

from ociforge.ostree.units import (
    expand_specifiers,
    find_unit,
    install_links,
    instance_of,
    parse_install_section,
    template_of,
    valid_unit_name,
    with_instance,
)
from tests.support import scratch
from tests.support.scratch import Link

LIB = "/usr/lib/systemd/system"
ETC = "/etc/systemd/system"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a.service", True),
        ("a@.service", True),
        ("a@b.timer", True),
        ("dev-sda\\x2d1.mount", True),
        ("a", False),
        ("a.conf", False),
        (".a.service", False),
        ("@a.service", False),
        ("a@b@c.service", False),
        ("../a.service", False),
        ("a b.service", False),
    ],
)
def test_valid_unit_name(name: str, valid: bool) -> None:
    assert valid_unit_name(name) is valid


def test_template_and_instance_names() -> None:
    assert template_of("getty@tty1.service") == "getty@.service"
    assert template_of("x.service") == "x.service"
    assert instance_of("getty@tty1.service") == "tty1"
    assert instance_of("getty@.service") == ""
    assert instance_of("x.service") is None
    assert with_instance("getty@.service", "tty2") == "getty@tty2.service"


@pytest.mark.parametrize(
    ("value", "name", "expanded"),
    [
        ("%n", "foo-bar@a.service", "foo-bar@a.service"),
        ("%N.target", "foo-bar@a.service", "foo-bar@a.target"),
        ("%p", "foo-bar@a.service", "foo-bar"),
        ("%i", "foo-bar@a.service", "a"),
        ("%j", "foo-bar@a.service", "bar"),
        ("%j", "foo.service", "foo"),
        ("%i", "foo.service", ""),
        ("100%%", "foo.service", "100%"),
        ("plain", "foo.service", "plain"),
    ],
)
def test_expand_specifiers(value: str, name: str, expanded: str) -> None:
    assert expand_specifiers(value, name) == expanded


@pytest.mark.parametrize("value", ["%H.service", "%I", "%m", "x%"])
def test_host_and_unescaping_specifiers_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="unsupported specifier"):
        expand_specifiers(value, "a@b.service")


def test_parse_install_section_merges_sections_and_resets() -> None:
    text = "[Install]\nWantedBy=a.target\n[Service]\nWantedBy=no.target\n[Install]\nWantedBy=\nWantedBy=b.target c.target\n"
    assert parse_install_section(text) == {"WantedBy": ["b.target", "c.target"]}


def test_find_unit_search_order_masks_aliases_and_templates() -> None:
    tree = scratch.memory(
        {
            f"{LIB}/a.service": "lib",
            f"{ETC}/a.service": "etc",
            "/usr/local/lib/systemd/system/b.service": "local",
            f"{LIB}/b.service": "lib",
            f"{LIB}/c.service": "c",
            f"{ETC}/c.service": Link("/dev/null"),
            f"{LIB}/d.service": Link("c.service"),
            f"{LIB}/t@.service": "template",
            "/opt/q.service": "linked",
            f"{ETC}/q.service": Link("/opt/q.service"),
        }
    )
    found = find_unit("a.service", tree)
    assert found is not None and (found.path, found.text) == (f"{ETC}/a.service", "etc")
    found = find_unit("b.service", tree)
    assert found is not None and found.text == "local"
    found = find_unit("c.service", tree)
    assert found is not None and found.state == "masked"
    found = find_unit("d.service", tree)
    assert found is not None and found.state == "alias"
    found = find_unit("t@x.service", tree)
    assert found is not None and (found.state, found.path) == ("file", f"{LIB}/t@.service")
    found = find_unit("q.service", tree)
    assert found is not None and (found.state, found.path) == ("file", "/opt/q.service")
    assert find_unit("missing.service", tree) is None
    assert find_unit("a.service", tree, scope="user") is None


def test_install_links_for_instances_aliases_and_problems() -> None:
    text = "[Install]\nWantedBy=m.target\nRequiredBy=r.target\nAlias=al@.service bad.socket\nAlso=x.service\n"
    plan = install_links("w@.service", text, f"{LIB}/w@.service", instances=["a", "b"])
    assert dict(plan.links) == {
        f"{ETC}/m.target.wants/w@a.service": f"{LIB}/w@.service",
        f"{ETC}/m.target.wants/w@b.service": f"{LIB}/w@.service",
        f"{ETC}/r.target.requires/w@a.service": f"{LIB}/w@.service",
        f"{ETC}/r.target.requires/w@b.service": f"{LIB}/w@.service",
        f"{ETC}/al@a.service": f"{LIB}/w@.service",
        f"{ETC}/al@b.service": f"{LIB}/w@.service",
    }
    assert plan.also == ("x.service",)
    assert plan.problems == ("w@.service: cannot alias w@.service as bad.socket",) * 2
    assert not plan.static


def test_install_links_template_alias_stays_template_with_default_instance() -> None:
    text = "[Install]\nWantedBy=m.target\nAlias=al@.service\nDefaultInstance=d\n"
    plan = install_links("w@.service", text, "/p", scope="user")
    assert dict(plan.links) == {
        "/etc/systemd/user/m.target.wants/w@d.service": "/p",
        "/etc/systemd/user/al@.service": "/p",
    }


def test_install_links_static_unit() -> None:
    plan = install_links("n.service", "[Service]\nExecStart=/bin/true\n", "/p")
    assert plan.static and not plan.links and not plan.also
