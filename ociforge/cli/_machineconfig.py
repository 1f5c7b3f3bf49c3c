"""``--machineconfig FILE --pool P --name N``: the MachineConfig for what a command pushed."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from .._fs import write_file_atomic
from ..coreos.machineconfig import (
    DEFAULT_POOL,
    check_pool_and_name,
    machineconfig_name,
    render_machineconfig,
)
from ..errors import InvalidReference
from ..registry.reference import RegistryReference
from ..transports import ImageReference

__all__ = [
    "MachineConfigRequest",
    "add_machineconfig_flags",
    "add_pool_and_name_flags",
    "machineconfig_request",
]


@dataclass(frozen=True, slots=True)
class MachineConfigRequest:
    """Where to write the MachineConfig and what it targets, checked before any push."""

    path: str
    pool: str
    name: str

    def write(self, pinned: str) -> None:
        """Write the MachineConfig for ``HOST/REPO@DIGEST`` atomically."""
        text = render_machineconfig(pinned, pool=self.pool, name=self.name)
        write_file_atomic(self.path, text.encode())


def add_pool_and_name_flags(parser: argparse._ActionsContainer) -> None:
    """``--pool`` and ``--name`` of the MachineConfig."""
    parser.add_argument(
        "--pool",
        metavar="POOL",
        help=f"the machine config pool the MachineConfig targets (default {DEFAULT_POOL})",
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="the MachineConfig's name (default: os-layer- and the repository path)",
    )


def add_machineconfig_flags(parser: argparse.ArgumentParser) -> None:
    """``--machineconfig FILE`` with ``--pool`` and ``--name``."""
    group = parser.add_argument_group("MachineConfig (registry destinations)")
    group.add_argument(
        "--machineconfig",
        metavar="FILE",
        help="after the push, write a MachineConfig whose osImageURL is the pushed digest",
    )
    add_pool_and_name_flags(group)


def machineconfig_request(
    args: argparse.Namespace, destination: ImageReference
) -> MachineConfigRequest | None:
    """The request the flags make, refused now if it cannot be honoured after the push."""
    path: str | None = args.machineconfig
    if path is None:
        given = [flag for flag in ("pool", "name") if getattr(args, flag) is not None]
        if given:
            raise InvalidReference(f"--{given[0]} needs --machineconfig FILE")
        return None
    if not isinstance(destination, RegistryReference):
        raise InvalidReference(
            f"--machineconfig {path}: {destination} is not a registry; a MachineConfig points"
            " at an image pushed to docker://HOST/REPO"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InvalidReference(f"--machineconfig {path}: no directory {directory}")
    pool = args.pool or DEFAULT_POOL
    name = args.name or machineconfig_name(destination.repository)
    check_pool_and_name(pool=pool, name=name)
    return MachineConfigRequest(path, pool, name)
