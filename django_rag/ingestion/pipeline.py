"""The ingestion pipeline: read, extract, split, embed, then swap chunks atomically.

Everything slow or fallible (reading, extraction, embedding) happens before the
transaction that replaces a document's chunks, so a failure at any point leaves the
previous chunks in place and searchable, and no half-written set of chunks is ever
visible. A PostgreSQL advisory lock keeps two workers from ingesting the same
document at once.

This module is the orchestration: what to do with each document and in which order.
:func:`prepare` is the stage that turns a document's bytes into the chunks to embed;
the locks and every write are in :mod:`django_rag.ingestion.writer`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from .. import reembed, validation
from ..conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from ..embedders import BaseEmbedder, get_embedder
from ..exceptions import (
    DocumentBusy, EmbeddingError, EmbeddingTimeout, EmbeddingUnavailable, FileTooLarge, IngestionError, LeaseLost,
    MissingFile, UnknownLanguage,
)
from ..files import display_name
from ..models import Chunk, Document
from ..redaction import redact
from ..signals import document_ingested, ingestion_failed
from .extractors import Extracted, detect_format, extract, signature_of
from .extractors.base import clean_value
from .leases import Lease, lease_fields
from .splitting import ChunkDraft, split_sections, splitter_options
from .writer import (
    DocumentLock, replace_chunks, replace_chunks_of_many, save_titles, try_lock_documents, unlock_documents,
)
# Importable from here as before they moved to the writer.
from .writer import advisory_lock_key as advisory_lock_key
from .writer import remove_chunks as remove_chunks

logger = logging.getLogger("django_rag.ingestion")

# The fields ingest() writes on a document.
_OUTCOME_FIELDS = (
    "status", "error", "content_hash", "ingest_signature", "chunk_count", "ingest_seconds", "ingest_timings",
    "ingested_at", "updated_at", "lease_owner", "lease_expires_at",
)


@dataclass
class IngestResult:
    """What :func:`ingest` did to one document."""

    document_id: int
    #: "ingested", "unchanged" (nothing to do), "failed" or "busy" (another worker has it).
    status: str
    chunks: int = 0
    embedded: int = 0
    error: str = ""
    error_code: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in {"ingested", "unchanged"}


def resolve_language(document: Document) -> str:
    if document.language:
        return document.language
    if document.collection_id and document.collection and document.collection.language:
        return document.collection.language
    language: str = get_setting("DEFAULT_LANGUAGE")
    return language


def read_source(document: Document) -> tuple[bytes, str, str | None]:
    """Return ``(data, name, format)``: the file's bytes, or the text field's."""
    limit = get_setting("MAX_FILE_SIZE")
    if document.file:
        name = document.file.name or ""  # set: the field holds a file
        try:
            size = document.file.size
        except FileNotFoundError as exc:
            # Not worth retrying: the upload is gone until someone uploads it again.
            raise MissingFile(
                f"The file {PurePath(name).name!r} is no longer in storage ({name}); upload it again."
            ) from exc
        except OSError as exc:
            raise IngestionError(f"The file {PurePath(name).name!r} could not be opened: {exc.strerror or exc}") from exc
        if size > limit:
            raise FileTooLarge(
                f"The file is {size:,} bytes; the limit is {limit:,} (DJANGO_RAG['MAX_FILE_SIZE'])."
            )
        try:
            with document.file.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise IngestionError(f"The file {PurePath(name).name!r} could not be read: {exc.strerror or exc}") from exc
        if len(data) > limit:  # the storage under-reported the size
            raise FileTooLarge(f"The file is larger than the limit of {limit:,} bytes (DJANGO_RAG['MAX_FILE_SIZE']).")
        return data, name, document.metadata.get("format") if isinstance(document.metadata, dict) else None
    data = document.text.encode("utf-8")
    if len(data) > limit:
        raise FileTooLarge(f"The text is {len(data):,} bytes; the limit is {limit:,} (DJANGO_RAG['MAX_FILE_SIZE']).")
    fmt = document.metadata.get("format") if isinstance(document.metadata, dict) else None
    return data, "", fmt or "markdown"


def ingest_signature(
    content_hash: str, embedder: BaseEmbedder, language: str, title: str = "", *, format: str | None = None,
    name: str = "",
) -> str:
    """Everything that decides what the chunks look like; equal signatures mean equal chunks.

    The extractor's version is part of it: after an upgrade that changes how a format
    is read, ``rag_reindex`` re-ingests the documents of that format (and no others). So
    are the chunking settings, their unit (CHUNK_UNIT) and the tokenizer counting it.
    ``name``, the file's (stored) name: each chunk's metadata names the file.
    """
    payload = {
        "content": content_hash,
        "splitter": splitter_options(embedder),
        "embedder": embedder.identity,
        "language": language,
        "extractor": signature_of(format),
        # The title is part of every chunk's context when CHUNK_CONTEXT is on.
        "context": title if get_setting("CHUNK_CONTEXT") else None,
        "file": source_file(name),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def source_file(name: str) -> str:
    """The uploaded file's own name (``handbook.docx``) as chunk metadata: without the
    storage's directories, and without control characters a storage may have kept."""
    return clean_value(display_name(name)) if name else ""


def chunk_metadata(section_metadata: dict[str, Any], *, format: str, name: str) -> dict[str, Any]:
    """A chunk's metadata: its section's (``page``, ``section``, ``heading``, ``rows``...),
    with the document's ``format`` and ``file``, which a section cannot override (a
    Markdown file's front matter may say ``format: post``; the chunk's format is ``markdown``)."""
    metadata = {**section_metadata, "format": format}
    file = source_file(name)
    if file:
        metadata["file"] = file
    return metadata


def chunk_context(title: str, metadata: dict[str, Any]) -> str:
    """The document title and section path a chunk is searched and embedded with.

    A chunk cut from the middle of a document often never names its subject; prefixing
    the title and headings ("contextual chunk headers") lets both the keyword and the
    semantic leg find it. On SciFact this lifted keyword nDCG@10 from 0.661 to 0.680
    (benchmarks/RESULTS.md). The context is stored apart from ``content``, which is what
    users see and what answers quote.
    """
    if not get_setting("CHUNK_CONTEXT"):
        return ""
    parts = [title.strip()] if title and title.strip() else []
    section = metadata.get("section") if isinstance(metadata, dict) else None
    if isinstance(section, str) and section.strip():
        # A Markdown document's H1 usually repeats its title.
        path = [p for p in section.split(" > ") if p.strip()]
        if parts and path and path[0].strip().casefold() == parts[0].casefold():
            path = path[1:]
        parts.extend(path)
    return " > ".join(parts)


def embed_in_batches(
    embedder: BaseEmbedder, texts: list[str], *, heartbeat: Callable[[], None] | None = None
) -> list[list[float]]:
    """Embed ``texts`` ``EMBED_BATCH_SIZE`` at a time; ``heartbeat`` is called before each call
    (the pipeline renews its lease there)."""
    size = get_setting("EMBED_BATCH_SIZE")
    vectors: list[list[float]] = []
    batches = (len(texts) + size - 1) // size
    for number, start in enumerate(range(0, len(texts), size), start=1):
        batch = texts[start : start + size]
        try:
            result = _embed_with_retries(embedder, batch, number, batches, heartbeat)
        except EmbeddingError:
            raise
        except Exception as exc:
            message = redact(str(exc), getattr(embedder, "secrets", ()))
            raise EmbeddingError(
                f"Embedder {embedder.alias!r} failed on batch {number} of {batches}: "
                f"{type(exc).__name__}: {message}"
            ) from exc
        vectors.extend(embedder.validate(result, len(batch)))
    return vectors


def _embed_with_retries(
    embedder: BaseEmbedder, batch: list[str], number: int, batches: int, heartbeat: Callable[[], None] | None
) -> Any:
    """One batch, tried again after a timeout or an outage (``EMBED_RETRIES`` times, waiting
    ``EMBED_RETRY_DELAY`` seconds, doubled each time). A refusal (HTTP 4xx, a wrong
    dimension) is not retried: it would only fail again."""
    retries, delay = get_setting("EMBED_RETRIES"), get_setting("EMBED_RETRY_DELAY")
    for attempt in range(retries + 1):
        if heartbeat is not None:
            heartbeat()
        try:
            return embedder.embed_documents(batch)
        except (EmbeddingTimeout, EmbeddingUnavailable) as exc:
            if attempt == retries:
                tries = f"{retries + 1} attempts" if retries else "1 attempt"
                raise type(exc)(f"{exc} (batch {number} of {batches}; {tries}, EMBED_RETRIES)") from None
            wait = delay * 2**attempt
            logger.warning(
                "Embedder %r failed on batch %d of %d (%s); retrying in %.1fs.", embedder.alias, number, batches,
                exc.code, wait,
            )
            time.sleep(wait)


def _check_language(language: str, using: str) -> None:
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SELECT %s::regconfig", [language])
    except DatabaseError as exc:
        raise UnknownLanguage(
            f"Unknown full-text language {language!r}: PostgreSQL has no such text search configuration "
            "(see `\\dF` in psql; common ones are english, simple, german, french, spanish)."
        ) from exc


def ingest(
    document: Document | int,
    *,
    force: bool = False,
    embedder: str | BaseEmbedder = DEFAULT_EMBEDDER_ALIAS,
    raise_errors: bool = False,
    using: str = "default",
) -> IngestResult:
    """Ingest one document and record the outcome on it.

    Returns an :class:`IngestResult`. Bad input (a corrupt or encrypted PDF, an empty or
    binary file, an unsupported type, a file over the size limit) and embedder failures
    mark the document ``failed`` with a clear ``error`` and keep its previous chunks;
    pass ``raise_errors=True`` to get the :class:`~django_rag.exceptions.IngestionError`
    raised as well. With ``force=False``, a document whose content, chunking settings and
    embedder have not changed costs no embedding call and no write.
    """
    document_id = _document_id(document)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with DocumentLock(document_id, using) as acquired:
        if not acquired:
            if raise_errors:
                raise DocumentBusy(f"Document {document_id} is being ingested by another worker.")
            return _busy(document_id)
        doc = Document.objects.using(using).select_related("collection").get(pk=document_id)
        lease: Lease | None = None
        try:
            work = _plan(doc, force=force, embedder=_embedder(embedder), using=using, started=started, timings=timings)
            if isinstance(work, IngestResult):
                return work
            work.lease = lease = Lease([doc.pk], using)
            lease.claim(status=Document.Status.PROCESSING, error="")
            doc.status, doc.error = Document.Status.PROCESSING, ""
            _check_language(work.language, using)
            _build(work)
            write_started = time.perf_counter()
            outcome = work.outcome()
            replace_chunks(
                doc, work.drafts, work.vectors, contexts=work.contexts, embedder=work.embedder,
                language=work.language, using=using, document_fields=outcome, lease=lease,
                side_vectors=work.side_vectors,
            )
            save_titles([work], using)
            return _finish(work, outcome, write_seconds=time.perf_counter() - write_started)
        except LeaseLost as exc:
            # Another worker has the document now: its outcome stands, ours is dropped.
            logger.warning("Ingestion of document %s stopped: %s", doc.pk, exc)
            if raise_errors:
                raise
            return IngestResult(doc.pk, "busy", error=str(exc), error_code=exc.code, timings=timings)
        except IngestionError as exc:
            result = _fail(doc, exc, using, timings, lease=lease)
            if raise_errors:
                raise
            return result
        except Exception as exc:
            _fail_unexpectedly(doc, exc, using, lease=lease)
            raise
        finally:
            if isinstance(document, Document):
                # The caller's instance is often saved again (admin, signal handlers); a
                # stale one would write back the old status and signature.
                _copy_outcome(doc, document)


def ingest_many(
    documents: Iterable[Document | int],
    *,
    force: bool = False,
    embedder: str | BaseEmbedder = DEFAULT_EMBEDDER_ALIAS,
    batch_size: int | None = None,
    using: str = "default",
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest many documents, writing the chunks of several in one transaction.

    The outcome per document is the one :func:`ingest` gives (bad input fails that
    document alone and keeps its previous chunks; unchanged documents cost nothing),
    but up to ``batch_size`` documents (``DJANGO_RAG["INGEST_BATCH_SIZE"]``) share
    their locks, status updates and the chunk swap: one ``DELETE`` and one ``COPY``
    for all of them, so the statement triggers that keep the BM25 statistics run once
    per batch instead of once per document. A document is never half-written: a batch
    either commits whole or, if the database refuses it, is written again document by
    document. ``on_result`` is called with each document's result as soon as it is known
    (progress bars); the list returned holds them in that order. Documents another
    worker holds come back ``busy``.
    """
    size = validation.integer("batch_size", get_setting("INGEST_BATCH_SIZE") if batch_size is None else batch_size)
    resolved = _embedder(embedder)
    documents = list(documents)
    ids = list(dict.fromkeys(_document_id(d) for d in documents))
    results: list[IngestResult] = []

    def report(result: IngestResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for start in range(0, len(ids), size):
        _ingest_batch(ids[start : start + size], force=force, embedder=resolved, using=using, report=report)
    # As ingest() does: instances the caller passed carry the outcome, so saving one
    # again cannot write back a stale status or signature. One query for them all.
    given = [d for d in documents if isinstance(d, Document)]
    if given:
        outcomes = Document.objects.using(using).in_bulk([d.pk for d in given])
        for document in given:
            if document.pk in outcomes:
                _copy_outcome(outcomes[document.pk], document)
    return results


# --- the stages, shared by ingest() and ingest_many() ---------------------------------


@dataclass
class _DocumentInProgress:
    """One document on its way through the pipeline."""

    doc: Document
    embedder: BaseEmbedder
    language: str
    data: bytes
    name: str
    format: str | None
    content_hash: str
    signature: str
    started: float
    timings: dict[str, float]
    drafts: list[ChunkDraft] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    # {identity: vectors} of the embedders being re-embedded or re-embedded (django_rag.reembed).
    side_vectors: dict[str, list[list[float]]] = field(default_factory=dict)
    lease: Lease | None = None
    named: bool = False  # the title came from the content (prepare())
    # This document's own seconds (reading, extracting, splitting, embedding): in a batch the
    # others' work runs between its plan and its write and is not its time.
    own_seconds: float = 0.0

    def outcome_seconds(self, write_seconds: float) -> float:
        return round(self.own_seconds + write_seconds, 4)

    def outcome(self, write_seconds: float | None = None) -> dict[str, Any]:
        """The document fields that commit together with its new chunks.

        ``write_seconds``: this document's share of a batch write; without it the time
        since its plan began (one document ingested alone).
        """
        now = timezone.now()
        return {
            "status": Document.Status.READY,
            "error": "",
            "content_hash": self.content_hash,
            "ingest_signature": self.signature,
            "chunk_count": len(self.drafts),
            "ingest_seconds": (
                round(time.perf_counter() - self.started, 4) if write_seconds is None
                else self.outcome_seconds(write_seconds)
            ),
            # The steps before the write; the write itself is timed in IngestResult.timings.
            "ingest_timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
            "ingested_at": now,
            "updated_at": now,
            **lease_fields(),
        }


def _document_id(document: Document | int) -> int:
    if isinstance(document, Document):
        return document.pk
    try:
        return validation.object_id("document", document)
    except ValueError:
        raise ValueError(f"document must be a Document or its primary key, not {document!r}.") from None


def _embedder(embedder: str | BaseEmbedder) -> BaseEmbedder:
    return get_embedder(embedder) if isinstance(embedder, str) else embedder


def _plan(
    doc: Document, *, force: bool, embedder: BaseEmbedder, using: str, started: float, timings: dict[str, float]
) -> _DocumentInProgress | IngestResult:
    """Read the source and decide: an ``unchanged`` result, or the work to do."""
    language = resolve_language(doc)
    data, name, fmt = read_source(doc)
    content_hash = hashlib.sha256(data).hexdigest()
    # A file's format from its content or name (an unsupported one fails the document here).
    fmt = fmt or detect_format(name, data)
    signature = ingest_signature(content_hash, embedder, language, doc.title, format=fmt, name=name)
    if not force and doc.ingest_signature == signature:
        # Same content, same chunking, same embedder: the chunks in place are right.
        if doc.status != Document.Status.READY or doc.error or doc.lease_owner:
            # A dead worker's lease goes too: the chunks in place are the right ones.
            _mark(doc, using, status=Document.Status.READY, error="", **lease_fields())
        return IngestResult(doc.pk, "unchanged", chunks=doc.chunk_count, timings=timings)
    return _DocumentInProgress(doc, embedder, language, data, name, fmt, content_hash, signature, started, timings)


@dataclass
class PreparedChunks:
    """A document's chunks before they are embedded: what :func:`prepare` returns."""

    drafts: list[ChunkDraft]
    #: Each chunk's context (:func:`chunk_context`), in the order of ``drafts``.
    contexts: list[str]
    #: The title the contexts were made with: the one given, or for an untitled document
    #: the one its content names (``named`` is then True).
    title: str
    named: bool = False

    @property
    def embedding_texts(self) -> list[str]:
        """What is embedded for each chunk: its context and its content."""
        return [Chunk.compose_embedding_text(context, d.content) for context, d in zip(self.contexts, self.drafts)]


def prepare(
    data: bytes,
    *,
    name: str = "",
    format: str | None = None,
    title: str = "",
    embedder: BaseEmbedder | None = None,
    timings: dict[str, float] | None = None,
) -> PreparedChunks:
    """Extract, split and give each chunk its context: the chunks :func:`ingest` embeds
    and writes, with nothing embedded and nothing written.

    ``data``, ``name`` and ``format`` are what :func:`read_source` returns; ``title`` is
    the document's; ``embedder`` (default: the default alias) is the one the chunks are
    measured for (``CHUNK_UNIT``, its input limit). Bad input raises its
    :class:`~django_rag.exceptions.IngestionError` here. ``timings`` gets the seconds of
    the ``"extract"`` and ``"split"`` steps.
    """
    timings = {} if timings is None else timings
    step_started = time.perf_counter()
    extracted: Extracted = extract(data, name=name, format=format, max_length=get_setting("MAX_TEXT_LENGTH"))
    timings["extract"] = time.perf_counter() - step_started
    named = False
    if not title.strip():
        found = _title_from_content(extracted, name)
        if found:
            title, named = found, True

    step_started = time.perf_counter()
    # The context line is embedded with each chunk: it counts against the input limit.
    drafts = split_sections(extracted.sections, embedder, context=lambda metadata: chunk_context(title, metadata))
    for draft in drafts:
        draft.metadata = chunk_metadata(draft.metadata, format=extracted.format, name=name)
    timings["split"] = time.perf_counter() - step_started

    contexts = [chunk_context(title, draft.metadata) for draft in drafts]
    return PreparedChunks(drafts, contexts, title, named)


def _build(work: _DocumentInProgress) -> None:
    """Prepare and embed: everything slow or fallible, before any write."""
    prepared = prepare(
        work.data, name=work.name, format=work.format, title=work.doc.title, embedder=work.embedder,
        timings=work.timings,
    )
    if prepared.named:
        # Part of the signature, as a title given by hand is.
        work.doc.title = prepared.title
        work.signature = ingest_signature(
            work.content_hash, work.embedder, work.language, prepared.title, format=work.format, name=work.name
        )
        work.named = True
    work.drafts, work.contexts = prepared.drafts, prepared.contexts

    embed_started = time.perf_counter()
    texts = prepared.embedding_texts
    heartbeat = work.lease.renew if work.lease is not None else None
    work.vectors = embed_in_batches(work.embedder, texts, heartbeat=heartbeat)
    work.side_vectors = reembed.side_vectors(
        texts, work.embedder, work.vectors, using=work.doc._state.db or "default", heartbeat=heartbeat
    )
    work.timings["embed"] = time.perf_counter() - embed_started


def title_from_file_name(name: str) -> str:
    """"installation-guide.md" -> "Installation guide": the last resort for a title."""
    words = " ".join(PurePath(name).stem.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def _title_from_content(extracted: Extracted, name: str) -> str:
    """The title an untitled document's content names: a first heading, a PDF's title
    metadata, else its file name ("" when there is none)."""
    return (extracted.metadata.get("title") or title_from_file_name(name))[:500]


def _finish(work: _DocumentInProgress, outcome: dict[str, Any], *, write_seconds: float) -> IngestResult:
    """After the chunks committed: update the instance, log, signal, report."""
    for name, value in outcome.items():
        setattr(work.doc, name, value)
    work.timings["write"] = write_seconds
    # Alone, the time since its plan; in a batch, its own steps and its share of the write.
    elapsed = work.outcome_seconds(write_seconds) if work.own_seconds else time.perf_counter() - work.started
    work.timings["total"] = elapsed
    logger.info("Ingested document %s: %d chunks in %.2fs", work.doc.pk, len(work.drafts), elapsed)
    result = IngestResult(
        work.doc.pk, "ingested", chunks=len(work.drafts), embedded=len(work.drafts), timings=work.timings
    )
    document_ingested.send(sender=Document, document=work.doc, result=result)
    return result


def _fail(
    doc: Document, exc: IngestionError, using: str, timings: dict[str, float], *, lease: Lease | None = None
) -> IngestResult:
    message = str(exc)
    _mark(doc, using, owner=lease.owner if lease else None, status=Document.Status.FAILED, error=message, **lease_fields())
    logger.warning("Ingestion of document %s failed: %s", doc.pk, message)
    result = IngestResult(doc.pk, "failed", chunks=doc.chunk_count, error=message, error_code=exc.code, timings=timings)
    ingestion_failed.send(sender=Document, document=doc, result=result)
    return result


def _fail_unexpectedly(doc: Document, exc: Exception, using: str, *, lease: Lease | None = None) -> None:
    # A bug or an outage, not bad input: record it so the admin shows something, then
    # the caller lets it propagate (to the task queue's retry logic). When the database
    # itself is gone this write fails too; the lease then expires and the document is
    # queued again as stuck.
    _mark(
        doc, using, owner=lease.owner if lease else None, status=Document.Status.FAILED,
        error=f"Unexpected error: {type(exc).__name__}: {redact(str(exc))}", **lease_fields(),
    )


def _busy(document_id: int) -> IngestResult:
    return IngestResult(document_id, "busy", error="Another worker is ingesting this document.", error_code="busy")


def _copy_outcome(source: Document, target: Document) -> None:
    if source is not target:
        for name in _OUTCOME_FIELDS:
            setattr(target, name, getattr(source, name))
        if not target.title.strip() and source.title:  # named from its content (prepare())
            target.title = source.title


def _ingest_batch(
    ids: list[int], *, force: bool, embedder: BaseEmbedder, using: str, report: Callable[[IngestResult], None]
) -> None:
    locked = try_lock_documents(ids, using)
    try:
        for document_id in ids:
            if document_id not in locked:
                report(_busy(document_id))
        docs = Document.objects.using(using).select_related("collection").in_bulk(sorted(locked))
        pending: list[_DocumentInProgress] = []
        for document_id in ids:
            if document_id not in locked:
                continue
            doc = docs.get(document_id)
            if doc is None:
                report(IngestResult(document_id, "failed", error="The document no longer exists.", error_code="missing"))
                continue
            timings: dict[str, float] = {}
            planned = time.perf_counter()
            try:
                work = _plan(doc, force=force, embedder=embedder, using=using, started=planned, timings=timings)
            except IngestionError as exc:
                report(_fail(doc, exc, using, timings))
                continue
            except Exception as exc:
                _fail_unexpectedly(doc, exc, using)
                raise
            if isinstance(work, IngestResult):
                report(work)
            else:
                work.own_seconds += time.perf_counter() - planned
                pending.append(work)
        if not pending:
            return
        lease = Lease([w.doc.pk for w in pending], using)
        lease.claim(status=Document.Status.PROCESSING, error="")
        known = _known_languages({w.language for w in pending}, using)
        budget = get_setting("INGEST_BATCH_CHUNKS")
        ready: list[_DocumentInProgress] = []
        for work in pending:
            work.lease = lease
            try:
                if work.doc.pk in lease.lost():
                    raise LeaseLost(f"Document {work.doc.pk} was taken over by another worker.")
                if work.language not in known:
                    _check_language(work.language, using)  # raises UnknownLanguage with the message
                building = time.perf_counter()
                _build(work)
                work.own_seconds += time.perf_counter() - building
            except LeaseLost as exc:
                report(IngestResult(work.doc.pk, "busy", error=str(exc), error_code=exc.code, timings=work.timings))
                continue
            except IngestionError as exc:
                report(_fail(work.doc, exc, using, work.timings, lease=lease))
                continue
            except Exception as exc:
                _fail_unexpectedly(work.doc, exc, using, lease=lease)
                raise
            ready.append(work)
            if sum(len(w.drafts) for w in ready) >= budget:
                _write_batch(ready, using, report)
                ready = []
        if ready:
            _write_batch(ready, using, report)
    finally:
        unlock_documents(locked, using)


def _write_batch(batch: list[_DocumentInProgress], using: str, report: Callable[[IngestResult], None]) -> None:
    """Swap the chunks of every document in ``batch`` in one transaction."""
    write_started = time.perf_counter()
    lease = batch[0].lease
    assert lease is not None
    try:
        # Each document's share of the write so far, by its chunks: its own time then.
        swap = replace_chunks_of_many(
            batch, lease=lease, using=using, document_fields=lambda work, seconds: work.outcome(seconds)
        )
    except DatabaseError:
        # One document's rows may be what the database refused: write them one by one,
        # so the others still land and the culprit gets its own error.
        logger.warning("A batch write of %d documents failed; retrying them one at a time.", len(batch), exc_info=True)
        for work in batch:
            _write_one(work, using, report)
        return
    for work in swap.gone:
        report(IngestResult(work.doc.pk, "failed", error="The document was deleted during ingestion.", error_code="missing"))
    for work in swap.taken:
        report(IngestResult(work.doc.pk, "busy", error="Another worker took this document over.", error_code="lease_lost"))
    total_chunks = sum(len(w.drafts) for w in swap.written) or 1
    elapsed = time.perf_counter() - write_started
    for work in swap.written:
        report(_finish(work, swap.document_fields[work.doc.pk], write_seconds=elapsed * len(work.drafts) / total_chunks))


def _write_one(work: _DocumentInProgress, using: str, report: Callable[[IngestResult], None]) -> None:
    write_started = time.perf_counter()
    outcome = work.outcome(0.0)  # its own steps: the write's time is not known before it
    try:
        replace_chunks(
            work.doc, work.drafts, work.vectors, contexts=work.contexts, embedder=work.embedder,
            language=work.language, using=using, document_fields=outcome, lease=work.lease,
            side_vectors=work.side_vectors,
        )
    except LeaseLost as exc:
        report(IngestResult(work.doc.pk, "busy", error=str(exc), error_code=exc.code, timings=work.timings))
        return
    except DatabaseError as exc:
        error = IngestionError(f"The chunks could not be stored: {redact(str(exc))}")
        report(_fail(work.doc, error, using, work.timings, lease=work.lease))
        return
    save_titles([work], using)
    report(_finish(work, outcome, write_seconds=time.perf_counter() - write_started))


def _known_languages(languages: set[str], using: str) -> set[str]:
    """The names among ``languages`` that are text search configurations, in one query.

    Only the names as PostgreSQL prints them (``english``); another spelling of a valid
    one (``pg_catalog.english``) is left to :func:`_check_language`, which casts it.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name"
            " WHERE EXISTS (SELECT FROM pg_ts_config c WHERE c.oid::regconfig::text = name)",
            [sorted(languages)],
        )
        return {row[0] for row in cursor.fetchall()}


def _mark(doc: Document, using: str, *, owner: str | None = None, **fields: Any) -> None:
    """Write ``fields`` on the document; with ``owner``, only while that lease still holds it."""
    fields["updated_at"] = timezone.now()
    rows = Document.objects.using(using).filter(pk=doc.pk)
    if owner is not None:
        rows = rows.filter(lease_owner=owner)
    try:
        # A savepoint when the caller holds a transaction open, so a failed status write
        # does not leave that transaction aborted for everything after it.
        with transaction.atomic(using=using):
            rows.update(**fields)
    except DatabaseError:
        logger.exception("Could not record the status of document %s", doc.pk)
    for name, value in fields.items():
        setattr(doc, name, value)
