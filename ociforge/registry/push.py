"""Pushing: a registry repository as an image sink, blobs in parallel, manifest by digest.

Order of work, as the distribution spec and its peers recommend: every blob the registry lacks
(``HEAD``) is mounted from another repository of the same registry when one is known to hold
it, or uploaded; layers go first, in parallel, largest first; then the config; then the
manifest's exact bytes under its digest, and only then under a tag. An upload that fails
midway asks the registry how much it kept and continues from there, or starts over in a new
session when the registry dropped it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Final

from .. import mediatypes as mt
from ..blobs import BlobSource
from ..digest import Digest
from ..errors import (
    AuthError,
    IntegrityError,
    ManifestError,
    RegistryResponseError,
    TransportError,
)
from ..sink import Progress
from ..spec import Descriptor
from .bodies import BlobBody, Cancelled, Feed, FileFeed, ReaderFeed
from .client import RegistryClient, UploadSession
from .options import RegistryOptions
from .reference import RegistryReference
from .source import RemoteBlobSource

__all__ = ["RegistrySink"]

#: A blob at most this big is read into memory and sent in the ``PUT`` that closes the upload.
_INLINE_MAX: Final = 256 * 1024


@dataclass(slots=True)
class _Upload:
    """The latest upload session the registry confirmed for one blob (None: start anew)."""

    session: UploadSession | None


class _Counter:
    """Bytes of one blob the registry has (or is being sent), for progress callbacks."""

    def __init__(self, descriptor: Descriptor, options: RegistryOptions) -> None:
        self._descriptor = descriptor
        self._progress = options.progress
        self.done = 0

    def set(self, done: int) -> None:
        self.done = done
        if self._progress is not None:
            self._progress(self._descriptor, done)

    def add(self, count: int) -> None:
        self.set(self.done + count)


class RegistrySink:
    """Push images into one repository; ``pushed`` is the ``REPO@DIGEST`` reference after.

    Implements :class:`~ociforge.sink.ImageSink` plus ``add_blobs`` (the parallel path
    :func:`~ociforge.sink.write_image` prefers). Nothing can be taken back from a registry, so
    :meth:`abort` only stops; blobs already sent stay unreferenced until the registry's GC.
    """

    def __init__(
        self, reference: RegistryReference, *, options: RegistryOptions | None = None
    ) -> None:
        self.reference = reference
        self.options = options or RegistryOptions()
        self.client = RegistryClient(
            reference, options=self.options, label=f"push to {reference.name}"
        )
        self.pushed: RegistryReference | None = None
        self._present: set[Digest] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._logged_in = False
        #: How each blob got there: counts of "skip", "mount" and "upload", for callers and tests.
        self.stats: dict[str, int] = {"skip": 0, "mount": 0, "upload": 0}

    @property
    def name(self) -> str:
        return f"docker://{self.reference}"

    def _login(self) -> None:
        if not self._logged_in:
            self.client.login(self.client.push_scopes())
            self._logged_in = True

    def _count(self, how: str) -> None:
        with self._lock:
            self.stats[how] += 1

    def has_blob(self, digest: Digest) -> bool:
        self._login()
        if digest in self._present:
            return True
        if self.client.blob_exists(digest, scopes=self.client.push_scopes()):
            with self._lock:
                self._present.add(digest)
            return True
        return False

    def add_blob(self, descriptor: Descriptor, source: BlobSource) -> None:
        self._login()
        self._transfer(descriptor, source, None)

    def add_blobs(
        self,
        blobs: Sequence[tuple[Descriptor, BlobSource]],
        *,
        manifest: Descriptor | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Push every blob the registry lacks: layers in parallel, largest first, then the rest.

        If the repository already has ``manifest``, nothing is checked blob by blob: a
        registry accepts a manifest only when every blob it references is present, so a
        re-push costs one ``HEAD``.
        """
        self._login()
        if manifest is not None and self.client.manifest_exists(manifest.digest):
            for descriptor, _ in blobs:
                self._count("skip")
                if progress:
                    progress("skip", descriptor)
            return
        unique = list(
            {descriptor.digest: (descriptor, source) for descriptor, source in blobs}.values()
        )
        layers = [b for b in unique if mt.is_layer(b[0].media_type)]
        others = [b for b in unique if not mt.is_layer(b[0].media_type)]
        layers.sort(key=lambda item: item[0].size, reverse=True)
        self._run_parallel(layers, progress)
        for descriptor, source in others:
            self._transfer(descriptor, source, progress)

    def _run_parallel(
        self, blobs: Sequence[tuple[Descriptor, BlobSource]], progress: Progress | None
    ) -> None:
        if not blobs:
            return
        jobs = max(1, min(self.options.jobs, len(blobs)))
        with ThreadPoolExecutor(jobs, thread_name_prefix="ociforge-push") as pool:
            futures: list[Future[None]] = [
                pool.submit(self._transfer, descriptor, source, progress)
                for descriptor, source in blobs
            ]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                self._stop.set()
                for future in pending:
                    future.cancel()
                wait(pending)
                errors = [f.exception() for f in futures if f.done() and not f.cancelled()]
                first = next(
                    (e for e in errors if e is not None and not isinstance(e, Cancelled)),
                    failed[0].exception(),
                )
                assert first is not None
                raise first

    def _transfer(
        self, descriptor: Descriptor, source: BlobSource, progress: Progress | None
    ) -> None:
        if self._stop.is_set():
            raise Cancelled("push cancelled")
        if self.has_blob(descriptor.digest):
            self._count("skip")
            if progress:
                progress("skip", descriptor)
            return
        if progress:
            progress("start", descriptor)
        session = self._mount(descriptor, source)
        if session is None:
            self._count("mount")
            if progress:
                progress("mount", descriptor)
        else:
            self._upload(descriptor, source, session)
            self._count("upload")
            if progress:
                progress("done", descriptor)
        with self._lock:
            self._present.add(descriptor.digest)

    def _mount_candidates(self, source: BlobSource) -> list[str]:
        candidates: list[str] = []
        if (
            isinstance(source, RemoteBlobSource)
            and source.registry == self.reference.registry
            and source.repository != self.reference.repository
        ):
            candidates.append(source.repository)
        for repository in self.options.mount_from:
            if repository != self.reference.repository and repository not in candidates:
                candidates.append(repository)
        return candidates

    def _mount(self, descriptor: Descriptor, source: BlobSource) -> UploadSession | None:
        """Mount from a candidate repository (None when mounted) or open an upload session."""
        for repository in self._mount_candidates(source):
            try:
                session = self.client.start_upload(mount=descriptor.digest, source=repository)
            except (AuthError, RegistryResponseError) as exc:
                if isinstance(exc, RegistryResponseError) and exc.temporary:
                    raise
                continue  # no pull access there, or the registry refuses mounts: upload
            if session is None:
                return None
            return session  # the registry did not have it there; upload into this session
        return self._start()

    def _start(self) -> UploadSession:
        session = self.client.start_upload()
        assert session is not None
        return session

    def _chunk_size(self, session: UploadSession) -> int:
        if not self.options.chunk_size:
            return 0
        return max(self.options.chunk_size, session.chunk_min)

    def _upload(self, descriptor: Descriptor, source: BlobSource, session: UploadSession) -> None:
        counter = _Counter(descriptor, self.options)
        policy = self.options.retry
        failures = 0
        state = _Upload(session)
        while True:
            try:
                if state.session is None:
                    state.session = self._start()
                self._send(descriptor, source, state, counter)
                return
            except (TransportError, RegistryResponseError) as exc:
                if isinstance(exc, Cancelled) or not exc.temporary:
                    raise
                failures += 1
                if failures >= policy.attempts:
                    raise
                retry_after = exc.retry_after if isinstance(exc, RegistryResponseError) else 0.0
                self.client.transport.sleep(policy.delay(failures, retry_after))
                # Ask where the upload stands (the last session the registry confirmed); if it
                # forgot the session, the next round starts a new one from byte 0.
                state.session = self.client.upload_status(state.session) if state.session else None

    def _send(
        self, descriptor: Descriptor, source: BlobSource, state: _Upload, counter: _Counter
    ) -> None:
        session = state.session
        assert session is not None
        size = descriptor.size
        counter.set(session.offset)
        if size <= _INLINE_MAX and session.offset == 0:
            with source.open_blob(descriptor) as reader:
                data = reader.read()
            self.client.finish_upload(session, descriptor.digest, data)
            counter.set(size)
            return
        chunk = self._chunk_size(session)
        what = f"{source.name}: blob {descriptor.digest}"
        with contextlib.ExitStack() as stack:
            span = stack.enter_context(source.blob_range(descriptor))
            feed: Feed
            if span is not None:
                feed = FileFeed(span, descriptor, session.offset, what=what)
            else:
                reader = stack.enter_context(source.open_blob(descriptor))
                feed = ReaderFeed(reader, session.offset, what=what)
            while chunk and size - session.offset > chunk:
                body = BlobBody(feed, chunk, final=False, on_read=counter.add, stop=self._stop)
                session = state.session = self.client.upload_chunk(session, body)
            body = BlobBody(
                feed, size - session.offset, final=True, on_read=counter.add, stop=self._stop
            )
            self.client.finish_upload(session, descriptor.digest, body)

    def add_manifest(
        self, descriptor: Descriptor, raw: bytes, *, ref: str = "", nested: bool = False
    ) -> None:
        """PUT the manifest by digest, then under the tag (``ref`` or the reference's).

        A ``nested`` manifest (an index's child) is put by digest only.
        """
        wanted = self.reference.digest
        if not nested and wanted is not None and wanted != descriptor.digest:
            raise ManifestError(
                f"{self.client.label}: the image's digest is {descriptor.digest}, but the"
                f" destination names {wanted}"
            )
        if Digest.of_bytes(raw, descriptor.digest.algorithm) != descriptor.digest:
            raise IntegrityError(
                f"{self.client.label}: manifest bytes do not match {descriptor.digest}"
            )
        self._login()
        self.client.put_manifest(str(descriptor.digest), raw, descriptor.media_type)
        if nested:
            return
        tag = ref or self.reference.tag
        if tag:
            self.client.put_manifest(tag, raw, descriptor.media_type)
        self.pushed = self.reference.with_digest(descriptor.digest)

    def commit(self) -> None:
        """Nothing to publish: a registry shows each manifest as soon as it is put."""
        self.client.close()

    def abort(self) -> None:
        """Stop transfers; what was sent stays, unreferenced."""
        self._stop.set()
        self.client.close()
