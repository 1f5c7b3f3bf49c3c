"""Derive, push by digest, roll out: MachineConfigs checked against the digests skopeo reports."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import yaml

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry, start_registry
from tests.support.tools import skopeo

NO_TLS = "--tls-verify=false"


def _archive(path: Path, image: images.BuiltImage) -> str:
    return "oci-archive:" + images.write_archive(str(path), [(image, "")])


def _skopeo_digest(reference: str, *flags: str) -> str:
    """The manifest digest skopeo reports for a registry reference."""
    return skopeo("inspect", NO_TLS, *flags, "--format", "{{.Digest}}", reference).stdout.strip()


def _top_layer_files(reference: str, tmp_path: Path) -> dict[str, bytes]:
    """The regular files of the image's last layer, as skopeo pulls it (read with tarfile)."""
    layout = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", reference, f"oci:{layout}:x")
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    blob = layout / "blobs" / "sha256" / manifest["layers"][-1]["digest"].split(":")[1]
    with tarfile.open(blob) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _machineconfig(pull_spec: str, *, pool: str, name: str) -> dict[str, object]:
    return {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": {"labels": {"machineconfiguration.openshift.io/role": pool}, "name": name},
        "spec": {"osImageURL": pull_spec},
    }


def test_append_push_machineconfig_names_the_digest_skopeo_reports(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    motd = tmp_path / "motd"
    motd.write_text("layered by ociforge\n")
    derived = tmp_path / "derived.ociarchive"
    appended = ociforge(
        "append",
        _archive(tmp_path / "base.ociarchive", small_image),
        f"oci-archive:{derived}",
        "--add",
        f"{motd}:/etc/motd",
    )
    assert appended.code == 0, appended.err
    mc = tmp_path / "mc.yaml"
    pushed = ociforge(
        "push",
        f"oci-archive:{derived}",
        registry.ref("fcos/custom:v1"),
        NO_TLS,
        "--machineconfig",
        str(mc),
        "--pool",
        "worker",
        "--name",
        "os-layer-custom",
    )
    assert pushed.code == 0, pushed.err
    digest = _skopeo_digest(registry.ref("fcos/custom:v1"))
    pull_spec = f"{registry.host}/fcos/custom@{digest}"
    assert pushed.out == pull_spec + "\n"
    assert yaml.safe_load(mc.read_text()) == _machineconfig(
        pull_spec, pool="worker", name="os-layer-custom"
    )
    # What the MachineConfig names is the derived image: the base plus /etc/motd.
    assert _top_layer_files(f"docker://{pull_spec}", tmp_path)["etc/motd"] == motd.read_bytes()

    resolved = ociforge(
        "machineconfig",
        registry.ref("fcos/custom:v1"),
        NO_TLS,
        "--name",
        "os-layer-custom",
        "--json",
    )
    assert resolved.code == 0, resolved.err
    document = json.loads(resolved.out)
    assert document["digest"] == digest
    assert document["osImageURL"] == pull_spec
    assert document["yaml"] == mc.read_text()

    # The tag moves; a new MachineConfig follows it, the old one still names the old digest.
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        _archive(tmp_path / "other.ociarchive", small_image),
        registry.ref("fcos/custom:v1"),
    )
    moved = ociforge("machineconfig", registry.ref("fcos/custom:v1"), NO_TLS, "-o", str(mc))
    assert (moved.code, moved.out) == (0, ""), moved.err
    assert small_image.digest == _skopeo_digest(registry.ref("fcos/custom:v1")) != digest
    assert yaml.safe_load(mc.read_text()) == _machineconfig(
        f"{registry.host}/fcos/custom@{small_image.digest}",
        pool="worker",
        name="os-layer-fcos-custom",
    )


def test_append_and_copy_to_a_registry_write_the_machineconfig(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    motd = tmp_path / "motd"
    motd.write_text("hello\n")
    mc = tmp_path / "mc.yaml"
    appended = ociforge(
        "append",
        _archive(tmp_path / "base.ociarchive", small_image),
        registry.ref("team/fcos_custom:v1"),
        "--add",
        f"{motd}:/etc/motd",
        NO_TLS,
        "--machineconfig",
        str(mc),
        "--json",
    )
    assert appended.code == 0, appended.err
    digest = _skopeo_digest(registry.ref("team/fcos_custom:v1"))
    pull_spec = f"{registry.host}/team/fcos_custom@{digest}"
    document = json.loads(appended.out)
    assert (document["digest"], document["reference"]) == (digest, pull_spec)
    assert document["machineconfig"] == str(mc)
    assert yaml.safe_load(mc.read_text()) == _machineconfig(
        pull_spec, pool="worker", name="os-layer-team-fcos-custom"
    )

    copied = ociforge(
        "copy",
        registry.ref("team/fcos_custom:v1"),
        registry.ref("infra/os:v1"),
        NO_TLS,
        "--machineconfig",
        str(tmp_path / "infra.yaml"),
        "--pool",
        "infra",
    )
    assert copied.code == 0, copied.err
    assert _skopeo_digest(registry.ref("infra/os:v1")) == digest
    assert yaml.safe_load((tmp_path / "infra.yaml").read_text()) == _machineconfig(
        f"{registry.host}/infra/os@{digest}", pool="infra", name="os-layer-infra-os"
    )


def _digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_machineconfig_refusals_write_nothing_and_push_nothing(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    base_path = tmp_path / "base.ociarchive"
    base = _archive(base_path, small_image)
    before = _digest_of(base_path)
    mc = tmp_path / "mc.yaml"
    motd = tmp_path / "motd"
    motd.write_text("x\n")

    local = ociforge("copy", base, f"oci:{tmp_path / 'out'}", "--machineconfig", str(mc))
    assert_clean_error(local, f"--machineconfig {mc}", "is not a registry")
    appended = ociforge(
        "append",
        base,
        f"oci-archive:{tmp_path / 'out.ociarchive'}",
        "--add",
        f"{motd}:/etc/motd",
        "--machineconfig",
        str(mc),
    )
    assert_clean_error(appended, "is not a registry")
    for flags, message in [
        (("--machineconfig", str(mc), "--name", "Bad_Name"), "'Bad_Name': not a valid Machine"),
        (("--machineconfig", str(mc), "--pool", "a b"), "'a b': not a valid pool name"),
        (("--pool", "infra"), "--pool needs --machineconfig FILE"),
        (("--machineconfig", str(tmp_path / "no" / "mc.yaml")), f"no directory {tmp_path}/no"),
    ]:
        refused = ociforge("push", base, registry.ref("fcos/x:v1"), NO_TLS, *flags)
        assert_clean_error(refused, message)
        assert refused.out == ""
    # Refused before any work: no output, no request reached the registry, input untouched.
    assert not mc.exists()
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.ociarchive").exists()
    assert [r for r in registry.requests() if r.uri != "/v2/"] == []
    assert _digest_of(base_path) == before


def test_machineconfig_never_writes_a_tag(tmp_path: Path, small_image: images.BuiltImage) -> None:
    secured = start_registry(tmp_path / "registry", auth="htpasswd")
    try:
        skopeo(
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            secured.creds,
            _archive(tmp_path / "base.ociarchive", small_image),
            secured.ref("fcos/os:stable"),
        )
        mc = tmp_path / "mc.yaml"
        bare = ociforge("machineconfig", f"{secured.host}/fcos/os:stable", "-o", str(mc))
        assert_clean_error(bare, "never a moving tag", f"docker://{secured.host}/fcos/os:stable")
        denied = ociforge("machineconfig", secured.ref("fcos/os:stable"), NO_TLS, "-o", str(mc))
        assert_clean_error(denied, f"{secured.host}/fcos/os")
        local = ociforge("machineconfig", _archive(tmp_path / "b.ociarchive", small_image))
        assert_clean_error(local, "points at an image in a registry; push it first")
        assert not mc.exists()
        assert (bare.out, denied.out, local.out) == ("", "", "")
        allowed = ociforge(
            "machineconfig", secured.ref("fcos/os:stable"), NO_TLS, "--creds", secured.creds
        )
        assert allowed.code == 0, allowed.err
        digest = _skopeo_digest(secured.ref("fcos/os:stable"), "--creds", secured.creds)
        assert f'osImageURL: "{secured.host}/fcos/os@{digest}"' in allowed.out
    finally:
        secured.stop()
