import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge


@pytest.fixture
def archive(tmp_path: Path, small_image: images.BuiltImage) -> Path:
    return Path(images.write_archive(str(tmp_path / "in.ociarchive"), [(small_image, "v1")]))


def test_inspect_json(archive: Path, small_image: images.BuiltImage) -> None:
    result = ociforge("inspect", f"oci-archive:{archive}:v1")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["digest"] == small_image.digest
    assert doc["labels"] == {"ostree.bootable": "true", "containers.bootc": "1"}
    assert [layer["digest"] for layer in doc["layers"]] == [
        lay.digest for lay in small_image.layers
    ]
    assert [layer["diffID"] for layer in doc["layers"]] == [
        lay.diff_id for lay in small_image.layers
    ]


def test_inspect_raw_and_config_are_exact_bytes(
    archive: Path, small_image: images.BuiltImage
) -> None:
    import subprocess
    import sys

    from tests.support.cli import ROOT

    env = {**os.environ, "PYTHONPATH": ROOT}
    raw = subprocess.run(
        [sys.executable, "-m", "ociforge", "inspect", "--raw", f"oci-archive:{archive}"],
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    assert raw == small_image.manifest
    config = subprocess.run(
        [sys.executable, "-m", "ociforge", "inspect", "--config", f"oci-archive:{archive}"],
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    assert config == small_image.config


def test_copy_prints_digest_and_writes_digestfile(
    tmp_path: Path, archive: Path, small_image: images.BuiltImage
) -> None:
    result = ociforge(
        "copy",
        f"oci-archive:{archive}:v1",
        f"oci:{tmp_path / 'out'}:x",
        "--digestfile",
        str(tmp_path / "d"),
    )
    assert result.code == 0, result.err
    assert result.out.strip() == small_image.digest
    assert (tmp_path / "d").read_text() == small_image.digest


# --- the error contract: one line, names the input, no traceback, nothing written ------------


def run_and_check_nothing_written(tmp_path: Path, *args: str) -> str:
    before = sorted(p.name for p in tmp_path.iterdir())
    hashes = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in tmp_path.iterdir()
        if p.is_file()
    }
    result = ociforge(*args)
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before, "partial output left behind"
    for name, digest in hashes.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, (
            f"{name} modified"
        )
    assert_clean_error(result)
    return result.err


def test_error_missing_file(tmp_path: Path) -> None:
    err = run_and_check_nothing_written(tmp_path, "inspect", f"oci-archive:{tmp_path / 'nope.tar'}")
    assert "nope.tar: no such file" in err


def test_error_unknown_transport(tmp_path: Path) -> None:
    err = run_and_check_nothing_written(tmp_path, "inspect", "ftp://x")
    assert "unknown transport" in err


def test_error_truncated_archive(tmp_path: Path, archive: Path) -> None:
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 3])
    err = run_and_check_nothing_written(
        tmp_path, "copy", f"oci-archive:{archive}", f"oci-archive:{tmp_path / 'o.tar'}"
    )
    assert "in.ociarchive" in err


def test_error_tampered_blob(tmp_path: Path, archive: Path, small_image: images.BuiltImage) -> None:
    victim = small_image.layers[1].blob
    data = archive.read_bytes()
    archive.write_bytes(data.replace(victim[20:40], bytes(20), 1))
    err = run_and_check_nothing_written(
        tmp_path, "copy", f"oci-archive:{archive}", f"oci:{tmp_path / 'o'}"
    )
    assert small_image.layers[1].digest in err
    assert "expected" in err


def test_error_bad_digest_in_manifest(tmp_path: Path, small_image: images.BuiltImage) -> None:
    doc = json.loads(small_image.manifest)
    doc["layers"][0]["digest"] = "sha256:../../../../etc/passwd"
    bad = images.BuiltImage(json.dumps(doc).encode(), small_image.config, small_image.layers)
    path = images.write_archive(str(tmp_path / "bad.tar"), [(bad, "")])
    err = run_and_check_nothing_written(
        tmp_path, "copy", f"oci-archive:{path}", f"oci:{tmp_path / 'o'}"
    )
    assert "invalid sha256 digest" in err


def test_error_gzip_bomb_layer(tmp_path: Path) -> None:
    import gzip

    from tests.support.images import BuiltLayer, image, sha256

    raw = b"\0" * (256 << 20)  # a 256 MiB layer of zeros compresses to ~250 KiB
    bomb = BuiltLayer(gzip.compress(raw, compresslevel=9, mtime=0), sha256(raw))
    path = images.write_archive(str(tmp_path / "bomb.tar"), [(image([bomb]), "")])
    del raw
    env = {**os.environ, "OCIFORGE_MAX_LAYER_SIZE": str(16 << 20)}
    from tests.support.cli import ociforge as run

    result = run("verify", f"oci-archive:{path}", env=env)
    assert_clean_error(result, "decompression bomb", "16777216")


def test_error_index_json_not_json(tmp_path: Path, small_image: images.BuiltImage) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    (layout / "index.json").write_text("][")
    err = run_and_check_nothing_written(
        tmp_path, "copy", f"oci:{layout}", f"oci-archive:{tmp_path / 'x.tar'}"
    )
    assert "index.json is not valid JSON" in err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = ociforge("inspect", "--debug", f"oci-archive:{tmp_path / 'nope'}")
    assert result.code == 3  # not found
    assert "Traceback" in result.err


def test_global_options_before_the_subcommand_and_json_errors(tmp_path: Path) -> None:
    missing = f"oci-archive:{tmp_path / 'nope'}"
    result = ociforge("--json", "inspect", missing)
    assert result.code == 3
    error = json.loads(result.err)
    assert error["kind"] == "NotFound" and "nope" in error["error"] and error["exit"] == 3
    quiet = ociforge("-q", "--debug", "inspect", missing)
    assert quiet.code == 3 and "Traceback" in quiet.err


def test_a_prefix_of_a_flag_is_not_taken_for_it(tmp_path: Path) -> None:
    result = ociforge("copy", "--digest", "x", "oci:a", "oci:b")
    assert result.code == 2 and "unrecognized arguments: --digest" in result.err
