"""File capabilities: libcap's text form (FILECAPS, ``cap_net_raw=ep``) → ``security.capability``.

The value is ``struct vfs_cap_data`` revision 2: a little-endian magic word carrying the
effective bit, then permitted and inheritable masks for capabilities 0–31 and 32–63.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from ..errors import RpmError

__all__ = ["CAPABILITIES", "XATTR", "encode_caps"]

XATTR: Final = "security.capability"
CAPABILITIES: Final = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]
_NUMBER: Final = {name: i for i, name in enumerate(CAPABILITIES)}
_REVISION_2: Final = 0x02000000
_EFFECTIVE: Final = 0x000001
_CLAUSE: Final = re.compile(r"^([a-z0-9_,]*)((?:[=+-][eip]*)+)$")
_OPS: Final = re.compile(r"([=+-])([eip]*)")


def _names(text: str, what: str) -> int:
    if text in ("", "all"):
        return (1 << len(CAPABILITIES)) - 1
    mask = 0
    for name in text.split(","):
        short = name.removeprefix("cap_")
        if short in _NUMBER:
            mask |= 1 << _NUMBER[short]
        elif short.isdigit() and int(short) < 64:
            mask |= 1 << int(short)
        else:
            raise RpmError(f"{what}: unknown capability {name!r}")
    return mask


def encode_caps(text: str, *, what: str = "file capabilities") -> bytes:
    """The ``security.capability`` value for a capability text, or b'' when it grants nothing."""
    sets = {"e": 0, "i": 0, "p": 0}
    for clause in text.lower().split():
        match = _CLAUSE.match(clause)
        if match is None:
            raise RpmError(f"{what}: cannot parse capabilities {text!r}")
        mask = _names(match.group(1), what)
        for op, flags in _OPS.findall(match.group(2)):
            if op == "=":
                for key in sets:
                    sets[key] &= ~mask
            for flag in flags:
                sets[flag] = sets[flag] | mask if op in "=+" else sets[flag] & ~mask
    if not sets["p"] and not sets["i"]:
        return b""
    magic = _REVISION_2 | (_EFFECTIVE if sets["e"] else 0)
    permitted, inheritable = sets["p"], sets["i"]
    return struct.pack(
        "<5I",
        magic,
        permitted & 0xFFFFFFFF,
        inheritable & 0xFFFFFFFF,
        permitted >> 32,
        inheritable >> 32,
    )
