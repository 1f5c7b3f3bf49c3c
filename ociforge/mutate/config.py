"""Change an image's config without adding a layer: labels, env, entrypoint, cmd, user, workdir.

What ``crane mutate`` and ``buildah config`` do: a new config (and manifest) with the same
layers, byte for byte. Everything not named stays as it was, key order included; the history
gains one ``empty_layer`` record saying what changed, as image builders record a ``LABEL``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..image import Image
from ..spec import format_created
from . import _rewrite

__all__ = ["ConfigChange", "change_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChange:
    """The changes to make; None (or empty) leaves a field as it is.

    ``env`` entries are ``KEY=VALUE`` and replace a variable of the same name;
    ``remove_labels`` and ``remove_annotations`` drop keys; ``entrypoint``/``cmd`` of ``[]``
    clear them.
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    remove_labels: Sequence[str] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    remove_annotations: Sequence[str] = ()
    env: Sequence[str] = ()
    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    user: str | None = None
    workdir: str | None = None

    def describe(self) -> str:
        """What the history record says (``ociforge config LABEL a=1 ENV B=2``)."""
        parts = [f"LABEL {k}={v}" for k, v in self.labels.items()]
        parts += [f"UNLABEL {k}" for k in self.remove_labels]
        parts += [f"ENV {e}" for e in self.env]
        if self.entrypoint is not None:
            parts.append(f"ENTRYPOINT {list(self.entrypoint)}")
        if self.cmd is not None:
            parts.append(f"CMD {list(self.cmd)}")
        if self.user is not None:
            parts.append(f"USER {self.user}")
        if self.workdir is not None:
            parts.append(f"WORKDIR {self.workdir}")
        if self.annotations or self.remove_annotations:
            parts.append("ANNOTATIONS")
        return "ociforge config " + " ".join(parts)


def _merge_env(current: Sequence[str], changes: Sequence[str]) -> list[str]:
    out = list(current)
    for entry in changes:
        key = entry.split("=", 1)[0]
        out = [e for e in out if e.split("=", 1)[0] != key]
        out.append(entry)
    return out


def change_config(
    image: Image, change: ConfigChange, *, created: _dt.datetime | None = None
) -> Image:
    """``image`` with ``change`` applied to its config (and annotations to its manifest).

    No layer is opened or added. ``created`` becomes the config's ``created`` and the
    history record's time (without it, both keep no new time, as in :func:`append_layers`).
    """
    when = format_created(created) if created is not None else None

    def config_change(config: dict[str, Any]) -> None:
        container: dict[str, Any] = config.setdefault("config", {})
        labels = dict(container.get("Labels") or {})
        labels.update(change.labels)
        for key in change.remove_labels:
            labels.pop(key, None)
        if labels or "Labels" in container:
            container["Labels"] = labels
        if change.env:
            container["Env"] = _merge_env(container.get("Env") or [], change.env)
        for key, value in (
            ("Entrypoint", change.entrypoint),
            ("Cmd", change.cmd),
            ("User", change.user),
            ("WorkingDir", change.workdir),
        ):
            if value is not None:
                container[key] = list(value) if isinstance(value, list | tuple) else value
        record: dict[str, Any] = {"created": when} if when is not None else {}
        record.update(created_by=change.describe(), empty_layer=True)
        config["history"] = [*(config.get("history") or []), record]
        if when is not None:
            config["created"] = when

    def manifest_change(manifest: dict[str, Any]) -> None:
        if not (change.annotations or change.remove_annotations):
            return
        annotations = {**(manifest.get("annotations") or {}), **change.annotations}
        for key in change.remove_annotations:
            annotations.pop(key, None)
        manifest["annotations"] = annotations

    return _rewrite(image, config_change, manifest_change, image.layers)
