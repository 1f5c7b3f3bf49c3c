"""The small verbs a crane/skopeo user reaches for: mutate, manifest, config, digest, packages, diff."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ociforge.transports import open_image
from ociforge.validate import validate_image
from tests.support import images, rpmroot, rpms
from tests.support.cli import assert_clean_error, ociforge
from tests.support.tools import need, run, skopeo
from tests.support.trees import snapshot


@pytest.fixture
def archive(tmp_path: Path, small_image: images.BuiltImage) -> Path:
    path = tmp_path / "base.ociarchive"
    images.write_archive(str(path), [(small_image, "")])
    return path


def test_mutate_changes_the_config_and_nothing_else(tmp_path: Path, archive: Path) -> None:
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "mutate",
        f"oci-archive:{archive}",
        f"oci-archive:{out}",
        "--label",
        "com.example.team=infra",
        "--remove-label",
        "containers.bootc",
        "--env",
        "TZ=UTC",
        "--entrypoint",
        '["/usr/bin/agent", "--serve"]',
        "--user",
        "1000:1000",
        "--annotation",
        "org.opencontainers.image.source=https://example.com/x",
    )
    assert result.code == 0, result.err
    before, after = open_image(f"oci-archive:{archive}"), open_image(f"oci-archive:{out}")
    assert [layer.descriptor for layer in after.layers] == [
        layer.descriptor for layer in before.layers
    ]
    assert after.config.digest != before.config.digest
    validate_image(after)
    theirs = json.loads(skopeo("inspect", "--config", f"oci-archive:{out}").stdout)
    config = theirs["config"]
    assert config["Labels"]["com.example.team"] == "infra"
    assert "containers.bootc" not in config["Labels"]
    assert config["Labels"]["ostree.bootable"] == "true"  # untouched labels stay
    assert "TZ=UTC" in config["Env"]
    assert config["Entrypoint"] == ["/usr/bin/agent", "--serve"]
    assert config["User"] == "1000:1000"
    manifest = json.loads(skopeo("inspect", "--raw", f"oci-archive:{out}").stdout)
    assert manifest["annotations"]["org.opencontainers.image.source"] == "https://example.com/x"
    assert theirs["history"][-1].get("empty_layer") is True


def test_mutate_refuses_bad_pairs(tmp_path: Path, archive: Path) -> None:
    out = tmp_path / "out.ociarchive"
    result = ociforge("mutate", f"oci-archive:{archive}", f"oci-archive:{out}", "--env", "NOEQUALS")
    assert_clean_error(result, "--env", "KEY=VALUE")
    assert not out.exists()


def test_manifest_config_digest_agree_with_skopeo(archive: Path) -> None:
    ref = f"oci-archive:{archive}"
    manifest = ociforge("manifest", ref)
    assert manifest.code == 0, manifest.err
    assert manifest.out == skopeo("inspect", "--raw", ref).stdout
    raw = ociforge("config", "--raw", ref)
    assert raw.out == skopeo("inspect", "--config", "--raw", ref).stdout
    assert json.loads(ociforge("config", ref).out) == json.loads(raw.out)
    digest = ociforge("digest", ref).out.strip()
    assert digest == "sha256:" + hashlib.sha256(manifest.out.encode()).hexdigest()


def _rpm_base(tmp_path: Path) -> tuple[Path, Path]:
    need("rpm", "rpmbuild")
    root = rpmroot.make_root(tmp_path / "root")
    tiny = rpms.build(rpms.Spec(name="extra", files="", install=""), tmp_path / "rpms")
    rpmroot.rpm_install(root, tiny, justdb=True)
    archive = tmp_path / "rpmbase.ociarchive"
    rpmroot.write_base_archive(root, archive)
    return root, archive


def test_packages_equal_rpm_qa(tmp_path: Path) -> None:
    root, archive = _rpm_base(tmp_path)
    result = ociforge("packages", f"oci-archive:{archive}")
    assert result.code == 0, result.err
    theirs = run(
        ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", "-qa",
         "--qf", "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n"],
        env={**os.environ, "HOME": str(tmp_path)},
    ).stdout  # fmt: skip
    assert sorted(result.out.split()) == sorted(theirs.split())
    doc = json.loads(ociforge("packages", "--json", f"oci-archive:{archive}").out)
    assert {p["name"] for p in doc} == {"base-system", "extra"}


def test_diff_names_paths_and_packages_as_unpack_sees_them(tmp_path: Path) -> None:
    _root, base = _rpm_base(tmp_path)
    (tmp_path / "motd").write_text("hello\n")
    agent = rpms.build(rpms.Spec(name="agent", files="", install=""), tmp_path / "rpms2")
    derived = tmp_path / "derived.ociarchive"
    made = ociforge(
        "append", f"oci-archive:{base}", f"oci-archive:{derived}",
        "--add", f"{tmp_path / 'motd'}:/etc/motd", "--rpm", str(agent),
    )  # fmt: skip
    assert made.code == 0, made.err
    result = ociforge("diff", "--json", f"oci-archive:{base}", f"oci-archive:{derived}")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert len(doc["layers"]["added"]) == 1 and doc["layers"]["removed"] == []
    assert doc["packages"]["added"] == ["agent-1.0-1.x86_64"]
    # The oracle: both images unpacked, the trees compared.
    for name in ("base", "derived"):
        out = ociforge(
            "unpack",
            f"oci-archive:{tmp_path / (name + '.ociarchive') if name == 'derived' else base}",
            str(tmp_path / f"u-{name}"),
        )
        assert out.code == 0, out.err
    a, b = snapshot(tmp_path / "u-base/rootfs"), snapshot(tmp_path / "u-derived/rootfs")
    assert sorted("/" + p for p in b.keys() - a.keys()) == doc["paths"]["added"]
    assert "/usr/share/rpm/rpmdb.sqlite" in doc["paths"]["changed"]
    same = ociforge("diff", "--exit-code", f"oci-archive:{base}", f"oci-archive:{base}")
    assert same.code == 0 and same.out == ""
    differ = ociforge("diff", "--exit-code", f"oci-archive:{base}", f"oci-archive:{derived}")
    assert (
        differ.code == 1 and "A /etc/motd" in differ.out and "+rpm agent-1.0-1.x86_64" in differ.out
    )
