"""Fold the layers above a base into one, dropping content that a later layer deleted.

Squashing is how a build keeps what it deleted (credentials, caches) out of the final image:
a file added by one layer and whited out by the next is in neither the squashed layer nor
anywhere else. The layers are read twice: once for their headers (what survives), once to
copy the data of the survivors, which is spooled to disk so the new layer can be sorted.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator

from .. import mediatypes as mt
from .._env import build_time
from ..errors import PolicyError
from ..image import Image
from ..layer import Layer
from ..mutate import HistoryEntry, append_layers, keep_layers
from ..tar.build import LayerBuilder
from ..tar.names import join
from ..tar.overlay import Member, Overlay
from ..tar.reader import MemberData, TarMember, iter_verified
from . import Derived

__all__ = ["ostree_base", "squash_image"]

_FINAL_DIFFID = "ostree.final-diffid"


def ostree_base(image: Image) -> int:
    """How many bottom layers are ostree content (by ``ostree.final-diffid``), else 0."""
    final = image.labels.get(_FINAL_DIFFID)
    if not final:
        return 0
    for index, diff_id in enumerate(image.config.diff_ids):
        if str(diff_id) == final:
            return index + 1
    raise PolicyError(f"{image.name}: {_FINAL_DIFFID} {final} is not one of the image's layers")


def squash_image(
    image: Image,
    *,
    base: int | None = None,
    compression: mt.Compression = "gzip",
    history: HistoryEntry | None = None,
    created: _dt.datetime | None = None,
) -> Derived:
    """``image`` with every layer above the bottom ``base`` folded into one.

    ``base`` defaults to the ostree part of the image (``ostree.final-diffid``), or 0; folding
    ostree content layers is refused, since their diff_ids identify the ostree commit. With
    fewer than two layers above the base there is nothing to fold and ``image`` is returned
    unchanged (with no new layer). ``created`` defaults to ``SOURCE_DATE_EPOCH`` or now.
    """
    layers = image.layers
    ostree = ostree_base(image)
    base = ostree if base is None else base
    if not 0 <= base <= len(layers):
        raise PolicyError(f"{image.name}: --base {base} but the image has {len(layers)} layers")
    if base < ostree:
        raise PolicyError(
            f"{image.name}: the bottom {ostree} layers are ostree content ({_FINAL_DIFFID});"
            f" squash above them (base >= {ostree})"
        )
    upper = layers[base:]
    if len(upper) < 2:
        return Derived(image=image)
    overlay = Overlay()
    for number, layer in enumerate(upper):
        for index, (member, _data) in enumerate(
            _read(layer, f"{image.name}: layer {base + number}")
        ):
            overlay.add(Member(number, index), member.header)
    plan = overlay.plan()

    builder = LayerBuilder(
        compression=compression, docker=mt.is_docker(image.media_type), parents=False
    )
    try:
        for header in plan.entries:
            builder.add_entry(header)
        for parts in plan.whiteouts:
            builder.add_whiteout(join(parts))
        for parts in plan.opaques:
            builder.add_opaque(join(parts))
        wanted = {m.layer for m in plan.members}
        for number, layer in enumerate(upper):
            if number not in wanted:
                continue
            what = f"{image.name}: layer {base + number}"
            for index, (member, data) in enumerate(_read(layer, what)):
                paths = plan.members.get(Member(number, index))
                if not paths:
                    continue
                first = join(paths[0])
                header = member.header.evolve(name=first)
                builder.add_entry(header, data if header.is_file else None)
                for other in paths[1:]:
                    builder.add_hardlink(join(other), first)
    except BaseException:
        builder.close()
        raise
    folded = builder.build()
    entry = history or HistoryEntry(created_by="ociforge squash")
    squashed = append_layers(
        keep_layers(image, base), [folded], history=[entry], created=created or build_time()
    )
    return Derived(image=squashed, layer=squashed.layers[-1])


def _read(layer: Layer, what: str) -> Iterator[tuple[TarMember, MemberData]]:
    with layer.open_uncompressed() as raw:
        yield from iter_verified(raw, what=what)
