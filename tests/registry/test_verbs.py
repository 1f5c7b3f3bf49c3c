"""tags, tag and delete against the real registry, checked with skopeo; one-line registry errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry
from tests.support.tools import skopeo

TLS = "--tls-verify=false"


def _push(registry: Registry, tmp_path: Path, img: images.BuiltImage, ref: str) -> None:
    archive = images.write_archive(str(tmp_path / f"{img.digest[7:19]}.ociarchive"), [(img, "")])
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archive}", registry.ref(ref))


def test_tags_tag_and_delete_as_skopeo_sees_them(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    _push(registry, tmp_path, small_image, "verbs/os:v1")
    _push(registry, tmp_path, images.platform_image("arm64"), "verbs/os:arm")
    uploads = len(registry.uploads())
    tagged = ociforge("tag", TLS, registry.ref("verbs/os:v1"), "stable")
    assert tagged.code == 0, tagged.err
    assert tagged.out == f"{registry.host}/verbs/os:stable@{small_image.digest}\n"
    assert len(registry.uploads()) == uploads  # the manifest only: no blob moved
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", TLS, registry.ref("verbs/os:stable")],
        capture_output=True,
        check=True,
    ).stdout
    assert raw == small_image.manifest
    listed = json.loads(skopeo("list-tags", TLS, registry.ref("verbs/os")).stdout)
    ours = ociforge("tags", TLS, registry.ref("verbs/os"))
    assert ours.code == 0, ours.err
    assert ours.out.splitlines() == listed["Tags"]
    assert sorted(listed["Tags"]) == ["arm", "stable", "v1"]
    assert json.loads(ociforge("ls", "--json", TLS, registry.ref("verbs/os")).out) == listed
    inspected = json.loads(ociforge("inspect", TLS, registry.ref("verbs/os:v1")).out)
    skopeo_view = json.loads(skopeo("inspect", TLS, registry.ref("verbs/os:v1")).stdout)
    assert inspected["RepoTags"] == skopeo_view["RepoTags"]

    deleted = ociforge("delete", TLS, registry.ref(f"verbs/os@{small_image.digest}"))
    assert deleted.code == 0, deleted.err
    assert deleted.out == f"{registry.host}/verbs/os@{small_image.digest}\n"
    gone = subprocess.run(
        ["skopeo", "inspect", "--raw", TLS, registry.ref(f"verbs/os@{small_image.digest}")],
        capture_output=True,
        check=False,
    )
    assert gone.returncode != 0
    again = ociforge("delete", TLS, registry.ref(f"verbs/os@{small_image.digest}"))
    assert_clean_error(again, "manifest unknown")
    assert again.code == 3
    assert "manifest unknown: manifest unknown" not in again.err


def test_registry_errors_say_it_once(registry: Registry) -> None:
    missing = ociforge("inspect", TLS, registry.ref("verbs/none:stable"))
    assert_clean_error(missing, "manifest unknown")
    assert "manifest unknown: manifest unknown" not in missing.err
    assert missing.code == 3
    no_repo = ociforge("tags", TLS, registry.ref("verbs/none"))
    assert_clean_error(no_repo, "name unknown")
    refused = ociforge("tag", TLS, "oci-archive:x.ociarchive", "v2")
    assert_clean_error(refused, "docker://HOST/REPO")
