"""MachineConfig rendering: digest pinning, names and pools."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ociforge.coreos.machineconfig import (
    check_pool_and_name,
    machineconfig_name,
    render_machineconfig,
)
from ociforge.errors import InvalidReference

DIGEST = "sha256:" + hashlib.sha256(b"m").hexdigest()
# Repository paths as distribution/reference allows them: alphanumeric runs joined by
# ".", "_", "__" or dashes, components joined by "/".
_ALNUM = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=40)
_SEPARATOR = st.sampled_from([".", "_", "__", "-", "--", "---"])
_COMPONENT = st.builds(
    lambda first, rest: first + "".join(sep + run for sep, run in rest),
    _ALNUM,
    st.lists(st.tuples(_SEPARATOR, _ALNUM), max_size=4),
)
REPOSITORY = st.lists(_COMPONENT, min_size=1, max_size=6).map("/".join)


def test_renders_digest_pinned_machineconfig() -> None:
    text = render_machineconfig(
        f"quay.io/acme/fcos-custom@{DIGEST}", pool="worker", name="os-layer-custom"
    )
    assert text.splitlines() == [
        "apiVersion: machineconfiguration.openshift.io/v1",
        "kind: MachineConfig",
        "metadata:",
        "  labels:",
        "    machineconfiguration.openshift.io/role: worker",
        "  name: os-layer-custom",
        "spec:",
        f'  osImageURL: "quay.io/acme/fcos-custom@{DIGEST}"',
    ]


def test_tag_next_to_digest_is_dropped() -> None:
    text = render_machineconfig(
        f"docker://127.0.0.1:5000/x/y:latest@{DIGEST}", pool="infra", name="n"
    )
    assert f'osImageURL: "127.0.0.1:5000/x/y@{DIGEST}"' in text


@pytest.mark.parametrize(
    ("spec", "pool", "name", "message"),
    [
        ("quay.io/acme/fcos:latest", "worker", "n", "never a moving tag"),
        ("quay.io/acme/fcos@sha256:1234", "worker", "n", "invalid sha256 digest"),
        (f"quay.io/acme/fcos@{DIGEST}", "worker", "Bad_Name", "not a valid MachineConfig name"),
        (f"quay.io/acme/fcos@{DIGEST}", "work er", "n", "not a valid pool name"),
        (f"quay.io/acme/fcos\n@{DIGEST}", "worker", "n", "not a valid pull spec"),
    ],
)
def test_refusals(spec: str, pool: str, name: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        render_machineconfig(spec, pool=pool, name=name)


@pytest.mark.parametrize(
    ("repository", "name"),
    [
        ("fcos/custom", "os-layer-fcos-custom"),
        ("team/fcos_custom", "os-layer-team-fcos-custom"),
        ("a__b---c/d.e", "os-layer-a-b-c-d.e"),
        ("library/alpine", "os-layer-library-alpine"),
    ],
)
def test_default_name_from_repository(repository: str, name: str) -> None:
    assert machineconfig_name(repository) == name


def test_default_name_is_used_when_none_given() -> None:
    text = render_machineconfig(f"docker://registry.local:5000/team/fcos_custom@{DIGEST}")
    assert "  name: os-layer-team-fcos-custom\n" in text
    assert "    machineconfiguration.openshift.io/role: worker\n" in text


def test_long_repository_gives_a_name_within_limits() -> None:
    # Cut at 253 characters, where a dash would end it: the dash goes too.
    name = machineconfig_name("a/" + "b" * 120 + "/" + "c" * 120 + "-" + "d" * 20)
    assert name == "os-layer-a-" + "b" * 120 + "-" + "c" * 120
    check_pool_and_name(pool="worker", name=name)


@given(REPOSITORY)
def test_any_repository_gives_a_valid_name(repository: str) -> None:
    check_pool_and_name(pool="worker", name=machineconfig_name(repository))
