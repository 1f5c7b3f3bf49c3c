import json
import os
import subprocess
from pathlib import Path

from ociforge.archive import OciArchive
from ociforge.recipes.bundle import unpack_reference
from ociforge.validate import validate_image
from tests.support import rpms
from tests.support.cli import ociforge
from tests.support.registry import Registry
from tests.support.tools import need, skopeo


def test_demo_runs_offline_and_its_output_is_valid(tmp_path: Path) -> None:
    result = ociforge("demo", "--json", "-o", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    steps = json.loads(result.out)
    derived = Path(steps[2]["path"])
    with OciArchive(str(derived)) as archive:
        image = archive.image()
        validate_image(image)
        assert str(image.digest) == steps[2]["digest"]
        assert image.labels["containers.bootc"] == "1"
        assert image.labels["ostree.final-diffid"] == steps[3]["kept_labels"]["ostree.final-diffid"]
    assert steps[2]["packages"] == ["hello-agent-1.0-1.noarch"]
    assert steps[2]["lint"] == "clean"
    assert (
        json.loads(skopeo("inspect", f"oci-archive:{derived}").stdout)["Digest"]
        == steps[2]["digest"]
    )


def test_demo_tree_has_the_files_units_and_package(tmp_path: Path) -> None:
    need("rpm")
    assert ociforge("demo", "-q", "-o", str(tmp_path / "demo")).code == 0
    bundle = tmp_path / "bundle"
    unpack_reference(
        f"oci-archive:{tmp_path / 'demo' / 'derived.ociarchive'}", str(bundle), rootless=True
    )
    root = bundle / "rootfs"
    assert (root / "etc/motd").read_text() == "Derived with ociforge: no container runtime.\n"
    assert (root / "etc/sysctl.d/99-demo.conf").read_text().startswith("# dropped in")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert os.readlink(wants / "hello-agent.service") == "/etc/systemd/system/hello-agent.service"
    assert os.readlink(wants / "chronyd.service") == "/usr/lib/systemd/system/chronyd.service"
    assert (root / "usr/bin/hello-agent").read_text().startswith("#!/bin/sh")
    assert os.readlink(root / "usr/bin/hello") == "hello-agent"
    env = rpms.env(tmp_path)
    query = ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm"]
    out = subprocess.run(
        [*query, "-qa"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["hello-agent-1.0-1.noarch"]
    verify = subprocess.run(
        [*query, "-V", "--nodeps", "hello-agent"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_demo_is_reproducible(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    a = json.loads(ociforge("demo", "--json", "-o", str(tmp_path / "a"), env=env).out)
    b = json.loads(ociforge("demo", "--json", "-o", str(tmp_path / "b"), env=env).out)
    assert a[0]["digest"] == b[0]["digest"]
    assert a[2]["digest"] == b[2]["digest"]


def test_demo_push_writes_a_digest_pinned_machineconfig(tmp_path: Path, registry: Registry) -> None:
    target = f"docker://{registry.host}/demo/fcos-derived:latest"
    result = ociforge(
        "demo", "--json", "-o", str(tmp_path / "demo"), "--push", target, "--tls-verify=false"
    )
    assert result.code == 0, result.err
    steps = json.loads(result.out)
    digest = json.loads(skopeo("inspect", "--tls-verify=false", target).stdout)["Digest"]
    yaml = Path(steps[-1]["machineconfig"]).read_text()
    assert f'osImageURL: "{registry.host}/demo/fcos-derived@{digest}"' in yaml
    assert steps[-1]["pull_spec"] == f"{registry.host}/demo/fcos-derived@{digest}"


def test_demo_is_reproducible_and_leaves_the_documented_inputs(tmp_path: Path) -> None:
    digests = []
    for run in ("a", "b"):
        result = ociforge("demo", "--json", "-o", str(tmp_path / run))
        assert result.code == 0, result.err
        digests.append(json.loads(result.out)[2]["digest"])
        for name in ("fcos.ociarchive", "hello-agent-1.0-1.noarch.rpm", "config.ign"):
            assert (tmp_path / run / name).stat().st_size > 0, name
    assert digests[0] == digests[1]
    assert (tmp_path / "a" / "derived.ociarchive").read_bytes() == (
        tmp_path / "b" / "derived.ociarchive"
    ).read_bytes()
