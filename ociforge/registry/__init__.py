"""Registries over the distribution API: references, auth, pulling and pushing by digest.

``reference`` and ``protocol`` are pure; ``transport`` is the only module that touches the
network; ``client`` speaks the API for one repository; ``source`` and ``push`` turn a
repository into a blob source and an image sink for the rest of ociforge.

The network half (and with it ``requests``) is imported on first use, so commands that never
talk to a registry do not pay for loading an HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .credentials import Credentials, find_credentials
from .options import RegistryOptions, RetryPolicy, TlsOptions, TransferProgress
from .reference import RegistryReference, parse_registry_reference

if TYPE_CHECKING:
    from .push import RegistrySink
    from .source import RemoteBlobSource, open_remote_image, resolve_digest

__all__ = [
    "Credentials",
    "RegistryOptions",
    "RegistryReference",
    "RegistrySink",
    "RemoteBlobSource",
    "RetryPolicy",
    "TlsOptions",
    "TransferProgress",
    "find_credentials",
    "open_remote_image",
    "parse_registry_reference",
    "resolve_digest",
]

_LAZY = {
    "RegistrySink": ".push",
    "RemoteBlobSource": ".source",
    "open_remote_image": ".source",
    "resolve_digest": ".source",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
