"""The ingestion pipeline: read, extract, split, embed, then swap chunks atomically.

Everything slow or fallible (reading, extraction, embedding) happens before the
transaction that replaces a document's chunks, so a failure at any point leaves the
previous chunks in place and searchable, and no half-written set of chunks is ever
visible. A PostgreSQL advisory lock keeps two workers from ingesting the same
document at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from ..conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from ..embedders import BaseEmbedder, get_embedder
from ..exceptions import DocumentBusy, EmbeddingError, FileTooLarge, IngestionError, UnknownLanguage
from ..models import Chunk, Document
from ..redaction import redact
from ..signals import document_ingested, ingestion_failed
from .extractors import EXTRACTOR_VERSION, Extracted, extract
from .splitting import ChunkDraft, split_sections, splitter_options
from .writer import copy_rows

logger = logging.getLogger("django_rag.ingestion")

# First key of the two-int advisory lock; the second is the document id. django-rag's
# other advisory locks live under 0x52414700 ("RAG\0"; key 1 is the BM25 statistics
# lock of migration 0002), so documents get a namespace of their own: sharing one made
# document 1's ingestion block every chunk write for as long as it ran.
_LOCK_NAMESPACE = 0x52414701  # "RAG\1"


def advisory_lock_key(document_id: int) -> tuple[int, int]:
    """The ``pg_advisory_lock(int4, int4)`` keys that guard one document's ingestion.

    Document ids are bigints; the second key is the id wrapped into int4's range, since
    PostgreSQL has no (int4, int8) variant and would reject an id past 2**31 outright.
    """
    return _LOCK_NAMESPACE, (document_id + 2**31) % 2**32 - 2**31


# The fields ingest() writes on a document.
_OUTCOME_FIELDS = (
    "status", "error", "content_hash", "ingest_signature", "chunk_count", "ingest_seconds", "ingest_timings",
    "ingested_at", "updated_at",
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
    if document.collection_id and document.collection.language:
        return document.collection.language
    return get_setting("DEFAULT_LANGUAGE")


def read_source(document: Document) -> tuple[bytes, str, str | None]:
    """Return ``(data, name, format)``: the file's bytes, or the text field's."""
    limit = get_setting("MAX_FILE_SIZE")
    if document.file:
        name = document.file.name
        try:
            size = document.file.size
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


def ingest_signature(content_hash: str, embedder: BaseEmbedder, language: str, title: str = "") -> str:
    """Everything that decides what the chunks look like; equal signatures mean equal chunks."""
    payload = {
        "content": content_hash,
        "splitter": splitter_options(),
        "embedder": embedder.identity,
        "language": language,
        "extractor": EXTRACTOR_VERSION,
        # The title is part of every chunk's context when CHUNK_CONTEXT is on.
        "context": title if get_setting("CHUNK_CONTEXT") else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


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


def embed_in_batches(embedder: BaseEmbedder, texts: list[str]) -> list[list[float]]:
    size = get_setting("EMBED_BATCH_SIZE")
    vectors: list[list[float]] = []
    batches = (len(texts) + size - 1) // size
    for number, start in enumerate(range(0, len(texts), size), start=1):
        batch = texts[start : start + size]
        try:
            result = embedder.embed_documents(batch)
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


def _check_language(language: str, using: str) -> None:
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SELECT %s::regconfig", [language])
    except DatabaseError as exc:
        raise UnknownLanguage(
            f"Unknown full-text language {language!r}: PostgreSQL has no such text search configuration "
            "(see `\\dF` in psql; common ones are english, simple, german, french, spanish)."
        ) from exc


class _AdvisoryLock:
    def __init__(self, document_id: int, using: str) -> None:
        self.document_id, self.using, self.held = document_id, using, False

    def __enter__(self) -> bool:
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(self.document_id))
            self.held = bool(cursor.fetchone()[0])
        return self.held

    def __exit__(self, *exc_info: Any) -> None:
        if self.held:
            with connections[self.using].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", advisory_lock_key(self.document_id))


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
    document_id = document if isinstance(document, int) else document.pk
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with _AdvisoryLock(document_id, using) as acquired:
        if not acquired:
            if raise_errors:
                raise DocumentBusy(f"Document {document_id} is being ingested by another worker.")
            return IngestResult(document_id, "busy", error="Another worker is ingesting this document.", error_code="busy")
        doc = Document.objects.using(using).select_related("collection").get(pk=document_id)
        try:
            result = _ingest_locked(doc, force=force, embedder_alias=embedder, using=using, started=started, timings=timings)
            if result.status == "ingested":
                document_ingested.send(sender=Document, document=doc, result=result)
            return result
        except IngestionError as exc:
            message = str(exc)
            _mark(doc, using, status=Document.Status.FAILED, error=message)
            logger.warning("Ingestion of document %s failed: %s", document_id, message)
            result = IngestResult(
                document_id, "failed", chunks=doc.chunk_count, error=message, error_code=exc.code, timings=timings
            )
            ingestion_failed.send(sender=Document, document=doc, result=result)
            if raise_errors:
                raise
            return result
        except Exception as exc:
            # A bug or an outage, not bad input: record it so the admin shows something,
            # then let it propagate to the caller (and the task queue's retry logic).
            _mark(doc, using, status=Document.Status.FAILED, error=f"Unexpected error: {type(exc).__name__}: {redact(str(exc))}")
            raise
        finally:
            if isinstance(document, Document):
                # The caller's instance is often saved again (admin, signal handlers); a
                # stale one would write back the old status and signature.
                for name in _OUTCOME_FIELDS:
                    setattr(document, name, getattr(doc, name))


def _mark(doc: Document, using: str, **fields: Any) -> None:
    fields["updated_at"] = timezone.now()
    try:
        # A savepoint when the caller holds a transaction open, so a failed status write
        # does not leave that transaction aborted for everything after it.
        with transaction.atomic(using=using):
            Document.objects.using(using).filter(pk=doc.pk).update(**fields)
    except DatabaseError:
        logger.exception("Could not record the status of document %s", doc.pk)
    for name, value in fields.items():
        setattr(doc, name, value)


def _ingest_locked(
    doc: Document, *, force: bool, embedder_alias: str | BaseEmbedder, using: str, started: float,
    timings: dict[str, float],
) -> IngestResult:
    embedder = get_embedder(embedder_alias) if isinstance(embedder_alias, str) else embedder_alias
    language = resolve_language(doc)
    data, name, fmt = read_source(doc)
    content_hash = hashlib.sha256(data).hexdigest()
    signature = ingest_signature(content_hash, embedder, language, doc.title)

    if not force and doc.ingest_signature == signature:
        # Same content, same chunking, same embedder: the chunks in place are right.
        if doc.status != Document.Status.READY or doc.error:
            _mark(doc, using, status=Document.Status.READY, error="")
        return IngestResult(doc.pk, "unchanged", chunks=doc.chunk_count, timings=timings)

    _mark(doc, using, status=Document.Status.PROCESSING, error="")
    _check_language(language, using)

    t = time.perf_counter()
    extracted: Extracted = extract(data, name=name, format=fmt, max_length=get_setting("MAX_TEXT_LENGTH"))
    timings["extract"] = time.perf_counter() - t

    t = time.perf_counter()
    drafts: list[ChunkDraft] = split_sections(extracted.sections)
    timings["split"] = time.perf_counter() - t

    contexts = [chunk_context(doc.title, draft.metadata) for draft in drafts]

    t = time.perf_counter()
    vectors = embed_in_batches(
        embedder, [Chunk.compose_embedding_text(context, d.content) for context, d in zip(contexts, drafts)]
    )
    timings["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    now = timezone.now()
    outcome = {
        "status": Document.Status.READY,
        "error": "",
        "content_hash": content_hash,
        "ingest_signature": signature,
        "chunk_count": len(drafts),
        "ingest_seconds": round(time.perf_counter() - started, 4),
        # The steps before the write; the write itself is timed in IngestResult.timings.
        "ingest_timings": {step: round(seconds, 4) for step, seconds in timings.items()},
        "ingested_at": now,
        "updated_at": now,
    }
    replace_chunks(
        doc, drafts, vectors, contexts=contexts, embedder=embedder, language=language, using=using,
        document_fields=outcome,
    )
    for name, value in outcome.items():
        setattr(doc, name, value)
    timings["write"] = time.perf_counter() - t

    elapsed = time.perf_counter() - started
    timings["total"] = elapsed
    logger.info("Ingested document %s: %d chunks in %.2fs", doc.pk, len(drafts), elapsed)
    return IngestResult(doc.pk, "ingested", chunks=len(drafts), embedded=len(drafts), timings=timings)


def replace_chunks(
    doc: Document,
    drafts: list[ChunkDraft],
    vectors: list[list[float]],
    *,
    embedder: BaseEmbedder,
    language: str,
    contexts: list[str] | None = None,
    using: str = "default",
    document_fields: dict[str, Any] | None = None,
) -> None:
    """Swap a document's chunks in one transaction: readers see the old set or the new one.

    ``document_fields`` are written to the document in the same transaction. Its
    signature must commit with the chunks it describes: were it written afterwards and
    that write failed, the next ingest of the old content would call the new chunks
    "unchanged".
    """
    contexts = contexts if contexts is not None else [""] * len(drafts)
    rows = (
        (doc.pk, index, draft.content, draft.metadata, vector, embedder.identity, language, context)
        for index, (draft, vector, context) in enumerate(zip(drafts, vectors, contexts, strict=True))
    )
    with transaction.atomic(using=using):
        # Lock the document row so a concurrent delete of the document waits for us.
        Document.objects.using(using).select_for_update().filter(pk=doc.pk).exists()
        Chunk.objects.using(using).filter(document_id=doc.pk)._raw_delete(using)
        copy_rows(rows, using=using)
        if document_fields:
            Document.objects.using(using).filter(pk=doc.pk).update(**document_fields)


def remove_chunks(document: Document | int, *, using: str = "default") -> int:
    """Delete a document's chunks and mark it ``pending``; returns how many were deleted.

    Takes the same advisory lock as :func:`ingest` (raising
    :class:`~django_rag.exceptions.DocumentBusy` when a worker holds it), so chunks are
    never removed from under a running ingestion. The signature is cleared too: the
    next ``ingest()`` re-embeds the document instead of calling it unchanged.
    """
    document_id = document if isinstance(document, int) else document.pk
    with _AdvisoryLock(document_id, using) as acquired:
        if not acquired:
            raise DocumentBusy(f"Document {document_id} is being ingested by another worker.")
        with transaction.atomic(using=using):
            Document.objects.using(using).select_for_update().get(pk=document_id)
            deleted = Chunk.objects.using(using).filter(document_id=document_id)._raw_delete(using)
            Document.objects.using(using).filter(pk=document_id).update(
                status=Document.Status.PENDING, error="", ingest_signature="", chunk_count=0,
                ingest_timings={}, ingested_at=None, updated_at=timezone.now(),
            )
    return deleted
