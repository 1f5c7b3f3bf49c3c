"""Fetching metadata and packages from real repositories served over loopback HTTP(S)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociforge.errors import (
    DigestMismatch,
    IntegrityError,
    OciforgeError,
    RepoError,
    SignatureError,
    SizeMismatch,
)
from ociforge.registry.options import RetryPolicy
from ociforge.repos.config import RepoConfig
from ociforge.repos.download import download
from ociforge.repos.fetch import FetchOptions, fetch_metadata
from ociforge.repos.load import MappingImageFiles, RepoAction, RepoOptions, load_repos
from ociforge.repos.metadata import RepoMetadata, Repository
from ociforge.repos.origin import RepoOrigin
from ociforge.rpm.signature import load_keys
from ociforge.transaction.solve import solve
from tests.support import pki
from tests.support.repos import (
    ForwardProxy,
    Graph,
    Override,
    RepoServer,
    installed_headers,
    primary_xml,
    serve,
    set_metadata,
)

FAST = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.02, connect_timeout=5, read_timeout=20)


def options(tmp_path: Path, **kwargs: object) -> FetchOptions:
    return FetchOptions(cache_dir=str(tmp_path / "cache"), retry=FAST, **kwargs)  # type: ignore[arg-type]


def repository(url: str | list[str], repo_id: str = "main", **config: object) -> Repository:
    urls = (url,) if isinstance(url, str) else tuple(url)
    return Repository(RepoConfig(id=repo_id, baseurls=urls, gpgcheck=False, **config))  # type: ignore[arg-type]


def fetch_one(repo: Repository, tmp_path: Path, **kwargs: object) -> RepoMetadata:
    (meta,) = fetch_metadata([repo], options=options(tmp_path, **kwargs))
    return meta


def cached_files(tmp_path: Path) -> list[str]:
    root = tmp_path / "cache"
    return (
        sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if root.exists()
        else []
    )


@pytest.fixture
def main(graph: Graph, tmp_path: Path) -> Iterator[RepoServer]:
    with serve(graph.copy_repo("main", tmp_path / "main")) as server:
        yield server


def _plain(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".bz2":
        return bz2.decompress(data)
    return subprocess.run(["zstd", "-d", "-c"], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("compress", ["gz", "xz", "zstd", "bz2"])
def test_metadata_fetched_verified_and_decompressed(
    graph: Graph, tmp_path: Path, compress: str
) -> None:
    root = graph.repo("main", compress=compress)
    with serve(root) as server:
        meta = fetch_one(repository(server.url), tmp_path)
    (primary,) = (root / "repodata").glob("*-primary.xml.*")
    (filelists,) = (root / "repodata").glob("*-filelists.xml.*")
    assert Path(meta.primary).read_bytes() == _plain(primary)
    assert meta.filelists is not None and Path(meta.filelists).read_bytes() == _plain(filelists)
    assert meta.baseurls == (server.url,)
    assert server.count("other.xml") == 0  # "other" is never needed


def test_second_run_downloads_only_repomd(main: RepoServer, tmp_path: Path) -> None:
    first = fetch_one(repository(main.url), tmp_path)
    assert main.count("primary") == 1 and main.count("filelists") == 1
    second = fetch_one(repository(main.url), tmp_path)
    assert second.primary == first.primary
    assert [s.path for s in main.requests()][-1] == "/repodata/repomd.xml"
    assert main.count("primary") == 1 and main.count("filelists") == 1
    assert main.count("repomd.xml") == 2


def test_next_mirror_when_one_fails(main: RepoServer, tmp_path: Path) -> None:
    with serve(tmp_path) as empty:  # answers 404 for everything
        meta = fetch_one(repository([empty.url + "/nothing", main.url]), tmp_path)
    assert meta.baseurls[0] == main.url
    assert empty.count("repomd.xml") == 1


def test_404_everywhere_is_one_line(tmp_path: Path) -> None:
    with serve(tmp_path) as empty, pytest.raises(RepoError) as caught:
        fetch_one(repository(empty.url + "/x"), tmp_path)
    message = str(caught.value)
    assert message.startswith("repo main: repodata/repomd.xml: http://127.0.0.1:"), message
    assert "404" in message and "\n" not in message


def test_file_url_repository(graph: Graph, tmp_path: Path) -> None:
    (repo,) = load_repos(
        image=None, options=RepoOptions(actions=[RepoAction("repo", f"local={graph.repo('main')}")])
    )
    meta = fetch_one(repo, tmp_path)
    assert Path(meta.primary).read_bytes() == primary_xml(graph.repo("main"))


def test_tls_with_client_certificate(graph: Graph, tmp_path: Path) -> None:
    server_pair, client_pair = pki.tls_pair(), pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    cert, key = client_pair.write(tmp_path / "pki", "client")
    with serve(graph.repo("main"), tls=server_pair, client_ca=client_pair, workdir=tmp_path) as cdn:
        entitled = repository(
            cdn.url, sslcacert=str(ca), sslclientcert=str(cert), sslclientkey=str(key)
        )
        meta = fetch_one(entitled, tmp_path)
        assert Path(meta.primary).exists()
        assert all(seen.client_cert for seen in cdn.requests())
        with pytest.raises(RepoError) as caught:
            fetch_one(repository(cdn.url, sslcacert=str(ca)), tmp_path / "nocert")
        assert "repo main" in str(caught.value) and "\n" not in str(caught.value)
        with pytest.raises(RepoError, match="TLS certificate verification failed"):
            fetch_one(repository(cdn.url), tmp_path / "noca")  # system roots do not know it


def test_redirect_to_another_host_carries_no_credentials(graph: Graph, tmp_path: Path) -> None:
    server_pair, client_pair = pki.tls_pair(), pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    cert, key = client_pair.write(tmp_path / "pki", "client")
    tls = {"tls": server_pair, "client_ca": client_pair, "workdir": tmp_path}
    with (
        serve(tmp_path / "empty", **tls) as cdn,
        serve(graph.repo("main"), **tls, require_client_cert=False) as storage,  # type: ignore[arg-type]
    ):
        (tmp_path / "empty").mkdir(exist_ok=True)
        for path in ("/repodata/repomd.xml",):
            cdn.overrides[path] = Override(302, headers={"Location": storage.url + path})
        repo = repository(
            cdn.url,
            sslcacert=str(ca),
            sslclientcert=str(cert),
            sslclientkey=str(key),
            username="user",
            password="secret",
        )
        # The storage host is trusted through the system roots only, as any other host would be:
        with pytest.raises(RepoError, match="TLS certificate verification failed"):
            fetch_one(repo, tmp_path)
        assert cdn.requests("repomd.xml")[0].headers.get("Authorization", "").startswith("Basic ")
        assert all(s.client_cert for s in cdn.requests())
    # Plain HTTP: the redirect is followed, without the Authorization header.
    with serve(tmp_path / "empty") as front, serve(graph.repo("main")) as back:
        for file in graph.repo("main").rglob("*"):
            path = "/" + str(file.relative_to(graph.repo("main")))
            front.overrides[path] = Override(302, headers={"Location": back.url + path})
        meta = fetch_one(repository(front.url, username="user", password="secret"), tmp_path / "h")
        assert meta.baseurls == (front.url,)
        assert front.requests("repomd.xml")[0].headers.get("Authorization")
        assert back.count("repomd.xml") == 1
        assert not any("Authorization" in s.headers for s in back.requests())


def test_https_to_http_redirect_is_refused(graph: Graph, tmp_path: Path) -> None:
    server_pair = pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    (tmp_path / "empty").mkdir()
    with (
        serve(tmp_path / "empty", tls=server_pair, workdir=tmp_path) as secure,
        serve(graph.repo("main")) as plain,
    ):
        secure.overrides["/repodata/repomd.xml"] = Override(
            301, headers={"Location": plain.url + "/repodata/repomd.xml"}
        )
        with pytest.raises(RepoError, match=r"redirect from https to http://127\.0\.0\.1"):
            fetch_one(repository(secure.url, sslcacert=str(ca)), tmp_path)
        assert plain.count() == 0


def test_corrupt_repomd(main: RepoServer, tmp_path: Path) -> None:
    main.overrides["/repodata/repomd.xml"] = Override(body=b"<repomd><data type=")
    with pytest.raises(RepoError, match=r"repo main: repodata/repomd\.xml: .*malformed XML"):
        fetch_one(repository(main.url), tmp_path)
    assert cached_files(tmp_path) == []


def test_truncated_and_altered_primary(main: RepoServer, graph: Graph, tmp_path: Path) -> None:
    (primary,) = (main.root / "repodata").glob("*-primary.xml.gz")
    path = "/repodata/" + primary.name
    blob = primary.read_bytes()
    main.overrides[path] = Override(body=blob[: len(blob) // 2])
    with pytest.raises(IntegrityError) as caught:
        fetch_one(repository(main.url), tmp_path)
    assert "primary.xml.gz" in str(caught.value)
    main.overrides[path] = Override(body=gzip.compress(b"<metadata/>", mtime=0))
    with pytest.raises(SizeMismatch, match=r"31 bytes, repomd\.xml says"):
        fetch_one(repository(main.url), tmp_path)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x55
    main.overrides[path] = Override(body=bytes(flipped))
    with pytest.raises(DigestMismatch, match="sha256 checksum mismatch"):
        fetch_one(repository(main.url), tmp_path)
    assert not [f for f in cached_files(tmp_path) if not f.startswith("metadata/.")]
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_metadata_bomb_is_bounded(graph: Graph, tmp_path: Path) -> None:
    root = graph.copy_repo("main", tmp_path / "bomb")
    bomb = b'<?xml version="1.0"?>\n<metadata>' + b" " * (64 * 1024 * 1024) + b"</metadata>"
    written = set_metadata(root, "primary", bomb, open_size=4096)
    assert written.stat().st_size < 1024 * 1024  # 64 MiB of XML in well under 1 MiB
    with serve(root) as server:
        with pytest.raises(SizeMismatch, match="exceeds the limit of 4096 bytes"):
            fetch_one(repository(server.url), tmp_path)
        set_metadata(root, "primary", bomb)  # honest open-size: the caller's bound applies
        with pytest.raises(SizeMismatch, match="exceeds the limit of 1048576 bytes"):
            fetch_one(repository(server.url), tmp_path, max_metadata_size=1024 * 1024)
    assert not list((tmp_path / "cache").rglob("*.xml"))


def test_doctype_in_primary_is_refused(graph: Graph, tmp_path: Path) -> None:
    root = graph.copy_repo("main", tmp_path / "dtd")
    hostile = primary_xml(root).replace(
        b"<metadata", b'<!DOCTYPE metadata [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<metadata', 1
    )
    set_metadata(root, "primary", hostile)
    with serve(root) as server, pytest.raises(RepoError, match="document type or entity"):
        fetch_one(repository(server.url), tmp_path)


def test_metalink_pins_repomd(main: RepoServer, tmp_path: Path) -> None:
    from tests.repos.test_mirrors import metalink

    repomd = (main.root / "repodata/repomd.xml").read_bytes()
    url = f'<url protocol="http" preference="100">{main.url}/repodata/repomd.xml</url>'
    (main.root / "metalink.xml").write_bytes(metalink(repomd, urls=url))
    repo = Repository(RepoConfig(id="main", metalink=main.url + "/metalink.xml", gpgcheck=False))
    meta = fetch_one(repo, tmp_path)
    assert meta.baseurls == (main.url,)
    (main.root / "metalink.xml").write_bytes(metalink(repomd + b" ", urls=url))
    with pytest.raises(IntegrityError, match="metalink lists"):
        fetch_one(repo, tmp_path)


def test_signed_repomd_with_key_from_the_image(graph: Graph, tmp_path: Path) -> None:
    from tests.support.repos import sign_repomd

    root = graph.copy_repo("main", tmp_path / "signed")
    sign_repomd(root, graph.key)
    image = MappingImageFiles(
        {
            "/etc/yum.repos.d/main.repo": b"",
            "/etc/pki/rpm-gpg/RPM-GPG-KEY-test": graph.key.public.read_bytes(),
        }
    )
    with serve(root) as server:
        text = (
            f"[fedora]\nbaseurl={server.url}\ngpgcheck=0\nrepo_gpgcheck=1\n"
            "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test\n"
        )
        files = dict(image.files) | {"/etc/yum.repos.d/main.repo": text.encode()}
        (repo,) = load_repos(image=MappingImageFiles(files), options=RepoOptions())
        assert repo.keys and repo.keys[0].fingerprint.hex().upper() == graph.key.fingerprint
        fetch_one(repo, tmp_path)
        assert server.count("repomd.xml.asc") == 1
        # A signature by another key, and a repomd.xml changed after signing:
        other = Repository(repo.config, ())
        with pytest.raises(SignatureError, match="no gpgkey"):
            fetch_one(other, tmp_path)
        stranger = Repository(repo.config, tuple(load_keys(graph_stranger_key(graph))))
        with pytest.raises(SignatureError, match="not one of the repository's keys"):
            fetch_one(stranger, tmp_path)
        asc = root / "repodata/repomd.xml.asc"
        good = asc.read_bytes()
        (root / "repodata/repomd.xml").write_bytes(
            (root / "repodata/repomd.xml").read_bytes().replace(b"<revision>", b"<revision>7")
        )
        with pytest.raises(SignatureError, match="BAD signature"):
            fetch_one(repo, tmp_path)
        asc.write_bytes(good[:40])
        with pytest.raises(SignatureError):
            fetch_one(repo, tmp_path)


def graph_stranger_key(graph: Graph) -> bytes:
    from tests.support import rpms

    return rpms.make_key(graph.workdir, "ed25519", "stranger").public.read_bytes()


def test_gpgkey_missing_from_the_image(tmp_path: Path) -> None:
    files = {
        "/etc/yum.repos.d/x.repo": b"[x]\nbaseurl=http://127.0.0.1:9/\ngpgcheck=1\n"
        b"gpgkey=file:///etc/pki/rpm-gpg/KEY\n"
    }
    with pytest.raises(
        RepoError, match=r"gpgkey file:///etc/pki/rpm-gpg/KEY: no such file in the image"
    ):
        load_repos(image=MappingImageFiles(files), options=RepoOptions())


def test_https_gpgkey_is_fetched_http_refused(graph: Graph, tmp_path: Path) -> None:
    server_pair = pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    root = graph.copy_repo("main", tmp_path / "k")
    shutil.copyfile(graph.key.public, root / "KEY.asc")
    from tests.support.repos import sign_repomd

    sign_repomd(root, graph.key)
    with serve(root, tls=server_pair, workdir=tmp_path) as server:
        repo = repository(
            server.url, sslcacert=str(ca), repo_gpgcheck=True, gpgkeys=(server.url + "/KEY.asc",)
        )
        meta = fetch_one(repo, tmp_path)
        assert meta.keys and server.count("KEY.asc") == 1
        plain = repository("http://127.0.0.1:9", gpgkeys=("http://127.0.0.1:9/KEY",))
        with pytest.raises(RepoError, match="plain http"):
            fetch_one(plain, tmp_path)


def test_skip_if_unavailable(main: RepoServer, tmp_path: Path) -> None:
    notes: list[str] = []
    gone = repository("http://127.0.0.1:9", repo_id="gone", skip_if_unavailable=True)
    found = fetch_metadata(
        [gone, repository(main.url)], options=options(tmp_path, note=notes.append)
    )
    assert [m.id for m in found] == ["main"]
    assert (
        len(notes) == 1 and notes[0].startswith("repo gone: ") and "skip_if_unavailable" in notes[0]
    )
    with pytest.raises(RepoError, match="connection refused"):
        fetch_metadata(
            [repository("http://127.0.0.1:9", repo_id="gone")], options=options(tmp_path)
        )


def test_proxy_with_credentials(main: RepoServer, tmp_path: Path) -> None:
    proxy = ForwardProxy()
    try:
        repo = repository(main.url, proxy=proxy.url, proxy_username="pu", proxy_password="pp w")
        fetch_one(repo, tmp_path)
        assert [m for m, _, _ in proxy.log] == ["GET", "GET", "GET"]
        assert all(auth.startswith("Basic ") for _, _, auth in proxy.log)
        none = repository(main.url, proxy="_none_")
        fetch_one(none, tmp_path / "direct")
        assert len(proxy.log) == 3
    finally:
        proxy.stop()


def test_https_through_a_connect_proxy(graph: Graph, tmp_path: Path) -> None:
    server_pair, client_pair = pki.tls_pair(), pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    cert, key = client_pair.write(tmp_path / "pki", "client")
    proxy = ForwardProxy()
    try:
        with serve(
            graph.repo("main"), tls=server_pair, client_ca=client_pair, workdir=tmp_path
        ) as cdn:
            repo = repository(
                cdn.url,
                proxy=proxy.url,
                sslcacert=str(ca),
                sslclientcert=str(cert),
                sslclientkey=str(key),
            )
            fetch_one(repo, tmp_path)
            assert proxy.log and all(m == "CONNECT" for m, _, _ in proxy.log)
            assert all(s.client_cert for s in cdn.requests())
    finally:
        proxy.stop()


# --- packages ---------------------------------------------------------------------------------


def _agent_transaction(graph: Graph, meta: RepoMetadata):  # type: ignore[no-untyped-def]
    return solve(
        installed=installed_headers(graph.base_root),
        repos=[meta],
        install=["agent"],
        architecture="x86_64",
    )


def test_packages_downloaded_in_parallel_verified_and_cached(
    main: RepoServer, graph: Graph, tmp_path: Path
) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    txn = _agent_transaction(graph, meta)
    got = download(txn.installs, [meta], options=options(tmp_path, jobs=3))
    assert [d.install for d in got] == list(txn.installs)
    for item in got:
        original = graph.rpm(str(item.install.package))
        assert Path(item.path).read_bytes() == original.read_bytes()
        assert item.package.nevra == str(item.install.package)
    assert main.count("/Packages/") == len(txn.installs) == 6
    again = download(txn.installs, [meta], options=options(tmp_path))
    assert [d.path for d in again] == [d.path for d in got]
    assert main.count("/Packages/") == 6


def test_downloads_run_in_parallel(main: RepoServer, graph: Graph, tmp_path: Path) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    txn = _agent_transaction(graph, meta)
    main.delays["/Packages/"] = 0.3
    download(txn.installs, [meta], options=options(tmp_path, jobs=3))
    assert main.most_in_flight == 3


def test_part_file_of_an_earlier_run_is_resumed(
    main: RepoServer, graph: Graph, tmp_path: Path
) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    txn = _agent_transaction(graph, meta)
    target = next(i for i in txn.installs if i.package.name == "agent-data")
    origin = target.origin
    assert isinstance(origin, RepoOrigin)
    blob = (main.root / origin.href).read_bytes()
    part = tmp_path / "cache" / "packages" / f"sha256-{origin.checksum.value}.rpm.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(blob[:100_000])
    (got,) = download([target], [meta], options=options(tmp_path))
    assert Path(got.path).read_bytes() == blob and not part.exists()
    (seen,) = main.requests(origin.href)
    assert seen.headers["Range"] == "bytes=100000-" and seen.status == 206


def test_package_checksum_mismatch_keeps_nothing(
    main: RepoServer, graph: Graph, tmp_path: Path
) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    txn = _agent_transaction(graph, meta)
    target = next(i for i in txn.installs if i.package.name == "helper")
    assert target.origin.href  # type: ignore[union-attr]
    other = graph.rpm("libbar-1.0-1.x86_64").read_bytes()
    main.overrides["/" + target.origin.href] = Override(body=other)  # type: ignore[union-attr]
    with pytest.raises(OciforgeError) as caught:
        download([target], [meta], options=options(tmp_path))
    assert isinstance(caught.value, (DigestMismatch, SizeMismatch))
    message = str(caught.value)
    assert "repo main: helper-1.0-1.x86_64" in message and "\n" not in message
    assert not list((tmp_path / "cache" / "packages").iterdir())


def test_interrupted_download_resumes_with_range(
    main: RepoServer, graph: Graph, tmp_path: Path
) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    txn = _agent_transaction(graph, meta)
    target = next(i for i in txn.installs if i.package.name == "agent-data")  # 300 kB
    path = "/" + target.origin.href  # type: ignore[union-attr]
    blob = (main.root / path.lstrip("/")).read_bytes()
    main.overrides[path] = Override(body=blob, cut_after=len(blob) // 3, times=1)
    (got,) = download([target], [meta], options=options(tmp_path))
    assert Path(got.path).read_bytes() == blob
    tries = main.requests(path)
    assert len(tries) == 2 and "Range" not in tries[0].headers
    start = int(tries[1].headers["Range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < start <= len(blob) // 3 and tries[1].status == 206


def test_header_that_differs_from_its_metadata(graph: Graph, tmp_path: Path) -> None:
    root = graph.copy_repo("main", tmp_path / "lying")
    # The entry says "libbaz", the file (whose checksum the entry gives) is libbar.
    lying = primary_xml(root).replace(b"<name>libbar</name>", b"<name>libbaz</name>")
    lying = lying.replace(b'name="libbar"', b'name="libbaz"').replace(
        b'name="libbar(x86-64)"', b'name="libbaz(x86-64)"'
    )
    set_metadata(root, "primary", lying)
    with serve(root) as server:
        meta = fetch_one(repository(server.url), tmp_path)
        txn = solve(installed=[], repos=[meta], install=["libbaz"], architecture="x86_64")
        with pytest.raises(
            RepoError,
            match=r"header says libbar-1\.0-1\.x86_64, the repository metadata says libbaz-1\.0-1\.x86_64",
        ):
            download(txn.installs, [meta], options=options(tmp_path))
    assert not list((tmp_path / "cache" / "packages").iterdir())


def test_gpgcheck_on_packages(graph: Graph, tmp_path: Path) -> None:
    with serve(graph.repo("signed")) as server:
        keys = tuple(
            __import__("ociforge.rpm.signature", fromlist=["load_keys"]).load_keys(
                graph.key.public.read_bytes()
            )
        )
        repo = Repository(RepoConfig(id="signed", baseurls=(server.url,), gpgcheck=True), keys)
        meta = fetch_one(repo, tmp_path)
        good = solve(installed=[], repos=[meta], install=["agent-data"], architecture="x86_64")
        (item,) = download(good.installs, [meta], options=options(tmp_path))
        assert item.package.signer.startswith(graph.key.fingerprint[-16:])
        bad = solve(installed=[], repos=[meta], install=["unsigned"], architecture="x86_64")
        with pytest.raises(SignatureError, match="not signed"):
            download(bad.installs, [meta], options=options(tmp_path))
        cached = sorted(p.name for p in (tmp_path / "cache" / "packages").iterdir())
        assert len(cached) == 1 and cached[0] == Path(item.path).name


def test_corrupt_primary_with_valid_checksum_fails_in_the_solver(
    graph: Graph, tmp_path: Path
) -> None:
    root = graph.copy_repo("main", tmp_path / "broken")
    set_metadata(root, "primary", primary_xml(root)[:5000])
    with serve(root) as server:
        meta = fetch_one(repository(server.url), tmp_path)
    with pytest.raises(RepoError) as caught:
        solve(installed=[], repos=[meta], install=["agent"], architecture="x86_64")
    message = str(caught.value)
    assert message.startswith("repo main: primary metadata: "), message
    assert "\n" not in message


def test_same_cached_content_for_every_mirror(main: RepoServer, tmp_path: Path) -> None:
    meta = fetch_one(repository(main.url), tmp_path)
    name = Path(meta.primary).name
    algo, hexdigest = name.removesuffix(".xml").split("-", 1)
    (primary,) = (main.root / "repodata").glob("*-primary.xml.gz")
    assert algo == "sha256" and hexdigest == hashlib.sha256(primary.read_bytes()).hexdigest()


def test_end_to_end_as_append_install_would(graph: Graph, tmp_path: Path) -> None:
    """Image .repo file + image key + entitled TLS + signed repomd → solve → download → check."""
    from ociforge.transaction.fileconflicts import check_file_conflicts
    from tests.support.repos import sign_repomd

    root = graph.copy_repo("main", tmp_path / "cdn")
    sign_repomd(root, graph.key)
    server_pair, client_pair = pki.tls_pair(), pki.tls_pair()
    ca, _ = server_pair.write(tmp_path / "pki", "ca")
    cert, key = client_pair.write(tmp_path / "pki", "client")
    with serve(root, tls=server_pair, client_ca=client_pair, workdir=tmp_path) as cdn:
        repo_file = (
            f"[rhel-9-for-x86_64-baseos-rpms]\nname=BaseOS $releasever\nbaseurl={cdn.url}\n"
            "enabled=1\ngpgcheck=0\nrepo_gpgcheck=1\n"
            "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n"
            f"sslverify=1\nsslcacert={ca}\nsslclientcert={cert}\nsslclientkey={key}\n"
        )
        image = MappingImageFiles(
            {
                "/etc/yum.repos.d/redhat.repo": repo_file.encode(),
                "/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release": graph.key.public.read_bytes(),
                "/etc/os-release": b"VERSION_ID=9.4\n",
            }
        )
        installed = installed_headers(graph.base_root)
        repos = load_repos(
            image=image, options=RepoOptions(architecture="amd64"), installed=installed
        )
        metadata = fetch_metadata(repos, options=options(tmp_path))
        txn = solve(
            installed=installed, repos=metadata, install=["agent", "libnew"], architecture="amd64"
        )
        packages = download(txn.installs, metadata, options=options(tmp_path))
        check_file_conflicts(
            installed=installed,
            incoming=[p.package.header for p in packages],
            erased={e.index for e in txn.erasures},
            architecture="amd64",
        )
    assert repos[0].config.name == "BaseOS 9.4"
    assert {str(p.install.package) for p in packages} >= {
        "agent-1.0-1.x86_64",
        "libnew-2.0-1.x86_64",
    }
    assert [e.describe() for e in txn.erasures] == [
        "erase libold-1.0-1.x86_64: obsoleted by libnew-2.0-1.x86_64"
    ]
    assert all(s.client_cert for s in cdn.requests())
