"""release-info on synthetic release payloads in a real registry and in an archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry
from tests.support.tools import skopeo

NO_TLS = "--tls-verify=false"


def _archive(path: Path, image: images.BuiltImage) -> str:
    return "oci-archive:" + images.write_archive(str(path), [(image, "")])


def _push(source: str, reference: str) -> str:
    """Push with skopeo; return the digest skopeo reports for the pushed reference."""
    skopeo("copy", "--dest-tls-verify=false", source, reference)
    return skopeo("inspect", NO_TLS, "--format", "{{.Digest}}", reference).stdout.strip()


@pytest.fixture
def payload(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> tuple[str, str, str]:
    """(release reference, release archive, rhel-coreos pull spec by skopeo's digest)."""
    rhcos = _archive(tmp_path / "rhcos.ociarchive", small_image)
    digest = _push(rhcos, registry.ref("ocp/rhcos:latest"))
    rhcos_spec = f"{registry.host}/ocp/rhcos@{digest}"
    built = images.release_payload(
        {
            "cluster-version-operator": f"{registry.host}/ocp/cvo@sha256:{'1' * 64}",
            "rhel-coreos": rhcos_spec,
            "cli": "quay.io/openshift/origin-cli:4.99",
        },
        version="4.99.3",
    )
    archive = _archive(tmp_path / "release.ociarchive", built)
    _push(archive, registry.ref("ocp/release:4.99.3"))
    return registry.ref("ocp/release:4.99.3"), archive, rhcos_spec


def test_image_for_gives_the_digest_skopeo_reports(
    registry: Registry, payload: tuple[str, str, str]
) -> None:
    release, archive, rhcos_spec = payload
    for source, flags in ((release, [NO_TLS]), (archive, [])):
        result = ociforge("release-info", "--image-for", "rhel-coreos", source, *flags)
        assert (result.code, result.out, result.err) == (0, rhcos_spec + "\n", "")


def test_json_lists_components_and_version(
    registry: Registry, payload: tuple[str, str, str]
) -> None:
    release, archive, rhcos_spec = payload
    result = ociforge("release-info", release, NO_TLS, "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    release_digest = skopeo("inspect", NO_TLS, "--format", "{{.Digest}}", release).stdout.strip()
    assert document["releaseDigest"] == release_digest
    assert document["version"] == "4.99.3"
    assert [(c["name"], c["pullSpec"]) for c in document["components"]] == [
        ("cluster-version-operator", f"{registry.host}/ocp/cvo@sha256:{'1' * 64}"),
        ("rhel-coreos", rhcos_spec),
        ("cli", "quay.io/openshift/origin-cli:4.99"),
    ]
    assert [c["digest"] for c in document["components"]] == [
        f"sha256:{'1' * 64}",
        rhcos_spec.split("@")[1],
        None,
    ]
    plain = ociforge("release-info", archive)
    assert plain.out.splitlines() == [
        f"cluster-version-operator {registry.host}/ocp/cvo@sha256:{'1' * 64}",
        f"rhel-coreos {rhcos_spec}",
        "cli quay.io/openshift/origin-cli:4.99",
    ]
    one = json.loads(ociforge("release-info", archive, "--image-for", "rhel-coreos", "--json").out)
    assert (one["name"], one["pullSpec"], one["digest"]) == (
        "rhel-coreos",
        rhcos_spec,
        rhcos_spec.split("@")[1],
    )


def test_derive_from_the_release_base_and_roll_out(
    registry: Registry, tmp_path: Path, payload: tuple[str, str, str]
) -> None:
    release, _, rhcos_spec = payload
    base = ociforge("release-info", "--image-for", "rhel-coreos", release, NO_TLS).out.strip()
    motd = tmp_path / "motd"
    motd.write_text("derived from the release's rhel-coreos\n")
    mc = tmp_path / "mc.yaml"
    derived = ociforge(
        "append",
        f"docker://{base}",
        registry.ref("ocp/custom:v1"),
        "--add",
        f"{motd}:/etc/motd",
        NO_TLS,
        "--machineconfig",
        str(mc),
    )
    assert derived.code == 0, derived.err
    digest = skopeo(
        "inspect", NO_TLS, "--format", "{{.Digest}}", registry.ref("ocp/custom:v1")
    ).stdout.strip()
    assert derived.out == f"{registry.host}/ocp/custom@{digest}\n"
    assert f'  osImageURL: "{registry.host}/ocp/custom@{digest}"\n' in mc.read_text()
    layers = json.loads(skopeo("inspect", NO_TLS, "--raw", registry.ref("ocp/custom:v1")).stdout)[
        "layers"
    ]
    base_layers = json.loads(skopeo("inspect", NO_TLS, "--raw", f"docker://{rhcos_spec}").stdout)[
        "layers"
    ]
    assert layers[:-1] == base_layers


def test_bad_inputs_are_one_line_errors(
    registry: Registry,
    tmp_path: Path,
    payload: tuple[str, str, str],
    small_image: images.BuiltImage,
) -> None:
    release, archive, _ = payload
    unknown = ociforge("release-info", "--image-for", "rhcos", release, NO_TLS)
    assert_clean_error(
        unknown, "no component 'rhcos' (it has cli, cluster-version-operator, rhel-coreos)"
    )
    by_tag = ociforge("release-info", "--image-for", "cli", archive)
    assert_clean_error(by_tag, "'cli' points at quay.io/openshift/origin-cli:4.99, a tag and not")
    not_payload = ociforge("release-info", _archive(tmp_path / "os.ociarchive", small_image))
    assert_clean_error(not_payload, "no /release-manifests/image-references: not a release payload")
    broken = images.release_payload(references=b'{"kind": "ImageStream", "spec": {"tags": [7]}}')
    malformed = ociforge("release-info", _archive(tmp_path / "broken.ociarchive", broken))
    assert_clean_error(malformed, "image-references: spec.tags[0]: expected an object")
    missing = ociforge("release-info", release.replace("release:", "nothing:"), NO_TLS)
    assert_clean_error(missing, "ocp/nothing")
    for result in (unknown, by_tag, not_payload, malformed, missing):
        assert result.out == ""
