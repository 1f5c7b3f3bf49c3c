"""index create: an index over per-platform images, read back by skopeo from the registry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry
from tests.support.tools import skopeo

TLS = "--tls-verify=false"


def test_index_create_over_two_platforms(registry: Registry, tmp_path: Path) -> None:
    amd64, arm64 = images.platform_image("amd64"), images.platform_image("arm64", "v8")
    first = images.write_archive(str(tmp_path / "amd64.ociarchive"), [(amd64, "")])
    second = images.write_archive(str(tmp_path / "arm64.ociarchive"), [(arm64, "")])
    made = ociforge(
        "index",
        "create",
        TLS,
        "--annotation",
        "org.example=1",
        registry.ref("idx/os:v1"),
        f"oci-archive:{first}",
        f"oci-archive:{second}",
    )
    assert made.code == 0, made.err
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", TLS, registry.ref("idx/os:v1")],
        capture_output=True,
        check=True,
    ).stdout
    index = json.loads(raw)
    assert made.out.strip().endswith("@" + images.sha256(raw))
    assert index["mediaType"] == images.OCI_INDEX
    assert [(m["digest"], m["platform"]) for m in index["manifests"]] == [
        (amd64.digest, {"architecture": "amd64", "os": "linux"}),
        (arm64.digest, {"architecture": "arm64", "os": "linux"}),
    ]
    assert index["annotations"] == {"org.example": "1"}
    # skopeo picks each platform out of it and reads the image whole.
    for arch, img in (("amd64", amd64), ("arm64", arm64)):
        view = json.loads(
            skopeo("--override-arch", arch, "inspect", TLS, registry.ref("idx/os:v1")).stdout
        )
        assert view["Architecture"] == arch
        assert view["Layers"] == [lay.digest for lay in img.layers]
    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        registry.ref("idx/os:v1"),
        f"oci:{tmp_path / 'check'}:x",
    )
    same = ociforge(
        "index",
        "create",
        f"oci-archive:{tmp_path / 'x.ociarchive'}",
        f"oci-archive:{first}",
        f"oci-archive:{first}",
    )
    assert same.code == 0, same.err  # the same image twice is named once
    clash = images.platform_image("amd64", text="another amd64\n")
    third = images.write_archive(str(tmp_path / "clash.ociarchive"), [(clash, "")])
    refused = ociforge(
        "index",
        "create",
        f"oci-archive:{tmp_path / 'y.ociarchive'}",
        f"oci-archive:{first}",
        f"oci-archive:{third}",
    )
    assert_clean_error(refused, "are both linux/amd64")
    assert not (tmp_path / "y.ociarchive").exists()
