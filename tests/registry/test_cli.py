"""The push, copy and inspect commands against real registries: output, flags, errors."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry, ociforge_flags, start_registry
from tests.support.tokenserver import TokenServer
from tests.support.tools import skopeo


def _archive(tmp_path: Path, image: images.BuiltImage) -> str:
    return images.write_archive(str(tmp_path / "in.ociarchive"), [(image, "")])


def test_push_progress_goes_to_stderr_and_stdout_stays_clean(
    registry: Registry, tmp_path: Path, cosa_image: images.BuiltImage
) -> None:
    # Interval 0: every plain progress line is printed, as a slow push in CI would show them.
    env = {**os.environ, "OCIFORGE_PROGRESS_INTERVAL": "0"}
    source = f"oci-archive:{_archive(tmp_path, cosa_image)}"
    result = ociforge("push", source, registry.ref("cli/os:v1"), "--tls-verify=false", env=env)
    assert result.code == 0, result.err
    assert result.out == f"{registry.host}/cli/os@{cosa_image.digest}\n"
    lines = result.err.splitlines()
    assert all(line.startswith("push: ") and "/51 blobs, " in line for line in lines)
    assert lines[-1].startswith("push: 51/51 blobs")
    again = ociforge("push", source, registry.ref("cli/os:v1"), "--tls-verify=false", env=env)
    assert again.code == 0, again.err
    assert "(51 already present)" in again.err.splitlines()[-1]
    quiet = ociforge("push", source, registry.ref("cli/os:v1"), "--tls-verify=false", "-q", env=env)
    assert (quiet.code, quiet.err) == (0, "")
    as_json = json.loads(
        ociforge("push", source, registry.ref("cli/os:v1"), "--tls-verify=false", "--json").out
    )
    assert as_json["reference"] == f"{registry.host}/cli/os@{cosa_image.digest}"
    assert as_json["digest"] == cosa_image.digest


def test_inspect_a_registry_image(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci-archive:{_archive(tmp_path, small_image)}",
        registry.ref("cli/img:v1"),
    )
    result = ociforge("inspect", "--tls-verify=false", registry.ref("cli/img:v1"))
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["digest"] == small_image.digest
    assert [layer["digest"] for layer in document["layers"]] == [
        lay.digest for lay in small_image.layers
    ]
    assert document["labels"]["ostree.bootable"] == "true"
    raw = ociforge("inspect", "--raw", "--tls-verify=false", registry.ref("cli/img:v1"))
    assert raw.out.encode() == small_image.manifest
    # pflag semantics, as skopeo: a bare --tls-verify means true and keeps the next argument.
    strict = ociforge("inspect", "--tls-verify", registry.ref("cli/img:v1"))
    assert strict.code == 1 and "plain HTTP" in strict.err, strict.err
    config = ociforge(
        "inspect", "--config", "--tls-verify=false", registry.ref(f"cli/img@{small_image.digest}")
    )
    assert config.out.encode() == small_image.config


def test_copy_between_registries_with_per_side_flags(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    source = start_registry(tmp_path / "src", auth="htpasswd", tls=True)
    destination = start_registry(tmp_path / "dst", auth="token", token=TokenServer())
    try:
        pushed = ociforge(
            "push",
            f"oci-archive:{_archive(tmp_path, small_image)}",
            source.ref("a/img:v1"),
            *ociforge_flags(source),
        )
        assert pushed.code == 0, pushed.err
        digestfile = tmp_path / "digest"
        result = ociforge(
            "copy",
            source.ref("a/img:v1"),
            destination.ref("b/img:v2"),
            "--digestfile",
            str(digestfile),
            *ociforge_flags(source, "src"),
            *ociforge_flags(destination, "dest"),
        )
        assert result.code == 0, result.err
        assert result.out.strip() == f"{destination.host}/b/img@{small_image.digest}"
        assert digestfile.read_text() == small_image.digest
        inspected = skopeo(
            "inspect",
            "--format",
            "{{.Digest}}",
            destination.ref("b/img:v2"),
            *ociforge_flags(destination),
        )
        assert inspected.stdout.strip() == small_image.digest
    finally:
        source.stop()
        destination.stop()


def test_credentials_from_an_auth_file(tmp_path: Path, small_image: images.BuiltImage) -> None:
    registry = start_registry(tmp_path / "registry", auth="htpasswd")
    try:
        auth = base64.b64encode(registry.creds.encode()).decode()
        authfile = tmp_path / "auth.json"
        authfile.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
        source = f"oci-archive:{_archive(tmp_path, small_image)}"
        by_flag = ociforge(
            "push",
            source,
            registry.ref("f/img:v1"),
            "--tls-verify=false",
            "--authfile",
            str(authfile),
        )
        assert by_flag.code == 0, by_flag.err
        env = {**os.environ, "REGISTRY_AUTH_FILE": str(authfile)}
        by_env = ociforge("push", source, registry.ref("f/img:v2"), "--tls-verify=false", env=env)
        assert by_env.code == 0, by_env.err
        docker = tmp_path / "docker"
        docker.mkdir()
        (docker / "config.json").write_text(
            json.dumps({"auths": {f"http://{registry.host}/v2/": {"auth": auth}}})
        )
        by_docker = ociforge(
            "push",
            source,
            registry.ref("f/img:v3"),
            "--tls-verify=false",
            env={**os.environ, "DOCKER_CONFIG": str(docker)},
        )
        assert by_docker.code == 0, by_docker.err
        anonymous = ociforge("push", source, registry.ref("f/img:v4"), "--tls-verify=false")
        assert_clean_error(anonymous, f"push to {registry.host}/f/img", "--creds")
    finally:
        registry.stop()


def test_push_without_rights_is_denied_in_one_line(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    def read_only(user: str, name: str, actions: list[str]) -> list[str]:
        return [a for a in actions if a == "pull"] if name.startswith("ro/") else actions

    registry = start_registry(
        tmp_path / "registry", auth="token", token=TokenServer(grant=read_only)
    )
    try:
        result = ociforge(
            "push",
            f"oci-archive:{_archive(tmp_path, small_image)}",
            registry.ref("ro/img:v1"),
            *ociforge_flags(registry),
        )
        assert_clean_error(
            result, f"push to {registry.host}/ro/img", "denied", "repository:ro/img:pull,push"
        )
        # Each of the two layers tries once and re-authenticates once; nothing loops.
        posts = [r for r in registry.requests() if r.method == "POST"]
        assert 1 <= len(posts) <= 4
        assert all(r.status == 401 for r in posts)
    finally:
        registry.stop()


def test_usage_errors_are_one_line(tmp_path: Path, small_image: images.BuiltImage) -> None:
    source = f"oci-archive:{_archive(tmp_path, small_image)}"
    assert_clean_error(
        ociforge("push", source, f"oci:{tmp_path / 'x'}"), "push needs a docker://HOST/REPO"
    )
    assert_clean_error(
        ociforge("push", source, "docker://127.0.0.1:1/a:v1", "--creds", "nopass"),
        "--creds must be USER:PASSWORD",
    )
    assert_clean_error(
        ociforge("push", source, "docker://127.0.0.1:1/UPPER:v1"), "invalid repository name"
    )
    bad_flag = ociforge("push", source, "docker://127.0.0.1:1/a:v1", "--tls-verify=maybe")
    assert bad_flag.code == 2
    assert "expected true or false" in bad_flag.err


def test_verify_reads_every_blob_from_a_registry(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    source = f"oci-archive:{_archive(tmp_path, small_image)}"
    assert ociforge("push", source, registry.ref("v/img:v1"), "--tls-verify=false").code == 0
    result = ociforge("verify", "--tls-verify=false", "--json", registry.ref("v/img:v1"))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["digest"] == small_image.digest
    assert report["layers"] == len(small_image.layers)
    gets = [r for r in registry.requests() if r.method == "GET" and "/blobs/sha256:" in r.uri]
    assert {r.uri.rsplit("/", 1)[1] for r in gets} >= {lay.digest for lay in small_image.layers}


def test_inspect_json_has_skopeos_fields(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    ref = registry.ref("cli/skopeo-fields:v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{_archive(tmp_path, small_image)}", ref)
    theirs = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
    ours = json.loads(ociforge("inspect", "--tls-verify=false", ref).out)
    for key in ("Digest", "Architecture", "Os", "Labels", "Layers", "Created"):
        assert ours[key] == theirs[key], key
    # skopeo 1.9 prints no LayersData; newer ones take it from the manifest, as here.
    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout)
    assert [(d["MIMEType"], d["Digest"], d["Size"]) for d in ours["LayersData"]] == [
        (d["mediaType"], d["digest"], d["size"]) for d in manifest["layers"]
    ]
    assert ours["Env"] == (theirs.get("Env") or [])
