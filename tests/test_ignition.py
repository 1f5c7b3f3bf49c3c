import base64
import gzip
import hashlib
import json
import urllib.parse
from typing import Any

import pytest

from ociforge.coreos.ignition import parse_ignition, parse_install_section
from ociforge.errors import IgnitionError

UNIT = """[Unit]
Description=Hello

[Service]
ExecStart=/usr/bin/echo hello

[Install]
WantedBy=multi-user.target
RequiredBy=network-online.target
Alias=hi.service
"""


def config(**sections: Any) -> bytes:
    return json.dumps({"ignition": {"version": "3.4.0"}, **sections}).encode()


def data_url(data: bytes, *, b64: bool = False) -> str:
    if b64:
        return "data:;base64," + base64.b64encode(data).decode()
    return "data:," + urllib.parse.quote(data)


def test_files_directories_links_and_units() -> None:
    motd = b"Hello from Ignition\n"
    packed = gzip.compress(b"compressed payload\n")
    cfg = config(
        storage={
            "directories": [{"path": "/etc/demo", "mode": 0o750}],
            "files": [
                {"path": "/etc/motd", "contents": {"source": data_url(motd)}, "mode": 0o644},
                {
                    "path": "/usr/local/bin/tool",
                    "mode": 0o755,
                    "contents": {
                        "source": data_url(packed, b64=True),
                        "compression": "gzip",
                        "verification": {
                            "hash": "sha512-" + hashlib.sha512(b"compressed payload\n").hexdigest()
                        },
                    },
                },
                {"path": "/etc/empty"},
            ],
            "links": [{"path": "/etc/localtime", "target": "../usr/share/zoneinfo/UTC"}],
        },
        systemd={
            "units": [
                {
                    "name": "hello.service",
                    "enabled": True,
                    "contents": UNIT,
                    "dropins": [
                        {"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}
                    ],
                },
                {"name": "debug-shell.service", "mask": True},
            ]
        },
    )
    content = parse_ignition(cfg)
    files = {f.path: f for f in content.files}
    assert files["/etc/motd"].data == motd
    assert files["/usr/local/bin/tool"].data == b"compressed payload\n"
    assert files["/usr/local/bin/tool"].mode == 0o755
    assert files["/etc/empty"].data == b""
    assert files["/etc/systemd/system/hello.service"].data == UNIT.encode()
    assert files["/etc/systemd/system/hello.service.d/10-env.conf"].data.startswith(b"[Service]")
    assert {d.path: d.mode for d in content.directories} == {"/etc/demo": 0o750}
    links = {k.path: k.target for k in content.links}
    assert links == {
        "/etc/localtime": "../usr/share/zoneinfo/UTC",
        "/etc/systemd/system/multi-user.target.wants/hello.service": "/etc/systemd/system/hello.service",
        "/etc/systemd/system/network-online.target.requires/hello.service": "/etc/systemd/system/hello.service",
        "/etc/systemd/system/hi.service": "/etc/systemd/system/hello.service",
        "/etc/systemd/system/debug-shell.service": "/dev/null",
    }


def test_enabling_a_unit_of_the_base_image() -> None:
    def lookup(name: str) -> tuple[str, str] | None:
        if name == "chronyd.service":
            return (
                "/usr/lib/systemd/system/chronyd.service",
                "[Install]\nWantedBy=multi-user.target\n",
            )
        return None

    content = parse_ignition(
        config(systemd={"units": [{"name": "chronyd.service", "enabled": True}]}),
        lookup_unit=lookup,
    )
    assert [(k.path, k.target) for k in content.links] == [
        (
            "/etc/systemd/system/multi-user.target.wants/chronyd.service",
            "/usr/lib/systemd/system/chronyd.service",
        )
    ]


def test_template_unit_with_default_instance() -> None:
    unit = "[Service]\nExecStart=/bin/true %i\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=one\n"
    content = parse_ignition(
        config(systemd={"units": [{"name": "x@.service", "enabled": True, "contents": unit}]})
    )
    assert [(k.path, k.target) for k in content.links] == [
        (
            "/etc/systemd/system/multi-user.target.wants/x@one.service",
            "/etc/systemd/system/x@.service",
        )
    ]


def test_names_resolved_through_the_base() -> None:
    def resolve(kind: str, name: str) -> int | None:
        return {"core": 1000, "wheel": 10}.get(name)

    cfg = config(
        storage={
            "files": [{"path": "/etc/x", "user": {"name": "core"}, "group": {"name": "wheel"}}]
        }
    )
    f = parse_ignition(cfg, resolve=resolve).files[0]
    assert (f.uid, f.gid) == (1000, 10)


def test_install_section_parsing() -> None:
    text = "[Install]\nWantedBy=a.target b.target\nWantedBy=c.target\n# WantedBy=no.target\nAlso=\n"
    assert parse_install_section(text) == {"WantedBy": ["a.target", "b.target", "c.target"]}


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        (
            {
                "storage": {
                    "files": [{"path": "/etc/x", "contents": {"source": "https://example.com/x"}}]
                }
            },
            "storage.files[0].contents.source",
        ),
        ({"storage": {"files": [{"path": "etc/x"}]}}, "storage.files[0].path"),
        ({"storage": {"files": [{"path": "/etc/../x"}]}}, "storage.files[0].path"),
        (
            {"storage": {"files": [{"path": "/etc/x", "append": [{"source": "data:,a"}]}]}},
            "storage.files[0].append",
        ),
        (
            {
                "storage": {
                    "files": [
                        {
                            "path": "/etc/x",
                            "contents": {
                                "source": "data:,abc",
                                "verification": {"hash": "sha512-" + "0" * 128},
                            },
                        }
                    ]
                }
            },
            "storage.files[0].contents.verification.hash",
        ),
        (
            {
                "storage": {
                    "files": [
                        {
                            "path": "/etc/x",
                            "contents": {"source": "data:,abc", "compression": "gzip"},
                        }
                    ]
                }
            },
            "storage.files[0].contents.compression",
        ),
        (
            {"storage": {"files": [{"path": "/etc/x", "user": {"name": "nobody-here"}}]}},
            "storage.files[0].user.name",
        ),
        ({"storage": {"disks": [{"device": "/dev/sda"}]}}, "storage.disks"),
        ({"storage": {"filesystems": [{"path": "/var"}]}}, "storage.filesystems"),
        ({"passwd": {"users": [{"name": "core"}]}}, "passwd.users"),
        ({"kernelArguments": {"shouldExist": ["quiet"]}}, "kernelArguments"),
        (
            {"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "http://x"}]}}},
            "ignition.config.merge",
        ),
        (
            {"systemd": {"units": [{"name": "missing.service", "enabled": True}]}},
            "systemd.units[0]",
        ),
        ({"systemd": {"units": [{"name": "../x.service"}]}}, "systemd.units[0].name"),
        ({"ignition": {"version": "2.2.0"}}, "ignition.version"),
    ],
)
def test_refusals_name_the_field(sections: dict[str, Any], field: str) -> None:
    raw = json.dumps({"ignition": {"version": "3.4.0"}, **sections}).encode()
    with pytest.raises(IgnitionError) as info:
        parse_ignition(raw)
    assert str(info.value).startswith(field), str(info.value)


def test_not_json() -> None:
    with pytest.raises(IgnitionError, match="not a JSON"):
        parse_ignition(b"variant: fcos\nversion: 1.5.0\n")  # Butane YAML, not its output


def test_append_ignition_end_to_end_on_the_unpacked_tree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The config's files, directories, links and enabled units are what the unpacked image has."""
    import os
    import stat

    from ociforge.recipes.bundle import unpack_reference
    from ociforge.samples.demo import sample_base_image
    from ociforge.transports import save_image
    from tests.support.cli import ociforge

    base = tmp_path / "base.ociarchive"
    save_image(sample_base_image(), f"oci-archive:{base}")
    script = b"#!/bin/sh\necho ready\n"
    unit = "[Service]\nExecStart=/usr/local/bin/ready\n[Install]\nWantedBy=multi-user.target\nAlias=ready-alias.service\n"
    cfg = config(
        storage={
            "directories": [{"path": "/etc/ready", "mode": 0o750, "user": {"name": "core"}}],
            "files": [
                {
                    "path": "/usr/local/bin/ready",
                    "mode": 0o755,
                    "contents": {
                        "source": data_url(gzip.compress(script), b64=True),
                        "compression": "gzip",
                    },
                },
                {
                    "path": "/etc/ready/conf",
                    "contents": {"source": data_url(b"x=1\n")},
                    "user": {"id": 1000},
                    "group": {"name": "wheel"},
                },
            ],
            "links": [{"path": "/etc/ready/current", "target": "conf"}],
        },
        systemd={
            "units": [
                {
                    "name": "ready.service",
                    "enabled": True,
                    "contents": unit,
                    "dropins": [
                        {"name": "10-debug.conf", "contents": "[Service]\nEnvironment=DEBUG=1\n"}
                    ],
                },
                {"name": "chronyd.service", "enabled": True},
                {"name": "debug-shell.service", "mask": True},
            ]
        },
    )
    (tmp_path / "config.ign").write_bytes(cfg)
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{tmp_path / 'out.ociarchive'}",
        "--ignition",
        str(tmp_path / "config.ign"),
    )
    assert result.code == 0, result.err
    bundle = tmp_path / "bundle"
    unpack_reference(f"oci-archive:{tmp_path / 'out.ociarchive'}", str(bundle))
    root = bundle / "rootfs"
    assert (root / "usr/local/bin/ready").read_bytes() == script
    assert stat.S_IMODE((root / "usr/local/bin/ready").stat().st_mode) == 0o755
    conf = (root / "etc/ready/conf").stat()
    assert (root / "etc/ready/conf").read_bytes() == b"x=1\n"
    assert (conf.st_uid, conf.st_gid) == (
        1000,
        10,
    )  # "wheel" resolved through the base's group file
    ready = (root / "etc/ready").stat()
    assert stat.S_IMODE(ready.st_mode) == 0o750
    assert ready.st_uid == 1000  # "core" from the base's /usr/lib/passwd
    assert os.readlink(root / "etc/ready/current") == "conf"
    system = root / "etc/systemd/system"
    assert (system / "ready.service").read_text() == unit
    assert (system / "ready.service.d/10-debug.conf").read_text().startswith("[Service]")
    assert (
        os.readlink(system / "multi-user.target.wants/ready.service")
        == "/etc/systemd/system/ready.service"
    )
    assert os.readlink(system / "ready-alias.service") == "/etc/systemd/system/ready.service"
    assert (
        os.readlink(system / "multi-user.target.wants/chronyd.service")
        == "/usr/lib/systemd/system/chronyd.service"
    )
    assert os.readlink(system / "debug-shell.service") == "/dev/null"
