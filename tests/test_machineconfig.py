import hashlib

import pytest

from ociforge.errors import InvalidReference
from ociforge.machineconfig import render_machineconfig

DIGEST = "sha256:" + hashlib.sha256(b"m").hexdigest()


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
