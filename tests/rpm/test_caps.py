"""Capability text → security.capability (the single-cap case is checked against rpm's install)."""

from __future__ import annotations

import struct

import pytest

from ociforge.errors import RpmError
from ociforge.rpm.caps import encode_caps


def test_several_capabilities() -> None:
    value = encode_caps("cap_net_admin,cap_net_raw+ep")
    assert struct.unpack("<5I", value) == (0x02000001, (1 << 12) | (1 << 13), 0, 0, 0)


def test_high_capability_and_no_effective() -> None:
    value = encode_caps("cap_checkpoint_restore=p")
    assert struct.unpack("<5I", value) == (0x02000000, 0, 0, 1 << (40 - 32), 0)


def test_inheritable_and_removal() -> None:
    value = encode_caps("cap_chown,cap_kill=eip cap_kill-i")
    assert struct.unpack("<5I", value) == (0x02000001, 0b100001, 0b000001, 0, 0)


def test_nothing_granted() -> None:
    assert encode_caps("cap_chown=") == b""


@pytest.mark.parametrize("text", ["cap_bogus=ep", "cap_chown=xyz", "cap_chown"])
def test_invalid(text: str) -> None:
    with pytest.raises(RpmError):
        encode_caps(text)
