"""What the ingestion writes, and the locks it writes under.

- The advisory locks that keep two workers off one document (:func:`advisory_lock_key`,
  :class:`DocumentLock`, :func:`try_lock_documents`).
- The chunk swap: a document's chunks (or a batch's) replaced in one transaction
  together with the document fields that describe them (:func:`replace_chunks`,
  :func:`replace_chunks_of_many`), and :func:`remove_chunks`.
- The rows themselves, written with PostgreSQL ``COPY`` (:func:`copy_rows`).

The pipeline (:mod:`django_rag.ingestion.pipeline`) decides what to write and when;
everything here is SQL.

Writing chunks in bulk with ``COPY``
------------------------------------
``bulk_create`` builds one multi-row INSERT per batch and makes Python format every
value twice; ``COPY ... FROM STDIN`` streams rows straight into the table and is what
a hand-written loader would use. benchmarks/ingest.py compares ingestion with a raw
COPY of the same rows (results in benchmarks/RESULTS.md).

The COPY is in binary format. Measured once, by hand, on the 2-core benchmark machine with
384-dimension vectors from the hashing embedder, against the text COPY this module used
before (when the binary COPY came in; benchmarks/RESULTS.md has the ingestion
benchmark's throughput, not these figures):

* The vector goes in pgvector's binary form (a 4-byte header and 384 big-endian
  float4, 1,540 bytes) built by ``array("f")`` in C: about 8 us a vector, where
  ``repr()`` of 384 floats joined into a 6,900-character literal took about 175 us.
* The server no longer parses 384 decimal numbers a row: COPY of 5,000 vectors alone
  into an unindexed table took about 7 us a row in binary against about 70 us as text.
* The stored float4 values are the same (both round each float to the nearest float4);
  the benchmark checks that the pipeline's rows equal the text-COPY baseline's.
* Binary COPY needs every column in its binary wire format: ``language`` (a
  ``regconfig``, whose binary form is an oid) is resolved to its oid with one query
  per call, before the COPY starts (no other query can run during it).
"""

from __future__ import annotations

import logging
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from .. import reembed
from ..exceptions import DocumentBusy, LeaseLost
from ..models import Chunk, Document
from .leases import Lease

if TYPE_CHECKING:
    from ..embedders import BaseEmbedder
    from .splitting import ChunkDraft

logger = logging.getLogger("django_rag.ingestion")

CHUNK_COLUMNS = ("document_id", "index", "content", "metadata", "embedding", "embedder", "language", "context")
COPY_SQL = f"COPY django_rag_chunk ({', '.join(CHUNK_COLUMNS)}) FROM STDIN (FORMAT BINARY)"

# The binary wire type of each column, as psycopg's set_types() names them. The vector
# is sent as bytes already in pgvector's binary format (vector_recv), and the regconfig
# as its oid (regconfigrecv reads an oid); the rest are the columns' own types.
COPY_TYPES = ("int8", "int4", "text", "jsonb", "bytea", "varchar", "oid", "text")

_VECTOR_HEADER = struct.Struct(">HH")  # dimensions, unused (pgvector's binary format)
_SWAP = sys.byteorder == "little"  # float4 goes in network (big-endian) byte order


def vector_binary(vector: Sequence[float] | str) -> bytes:
    """pgvector's binary form of a vector (a list of floats, or its text literal)."""
    if isinstance(vector, str):
        vector = [float(x) for x in vector.strip().strip("[]").split(",") if x.strip()]
    values = array("f", vector)  # rounds each float to float4, as the text input would
    if _SWAP:
        values.byteswap()
    return _VECTOR_HEADER.pack(len(values), 0) + values.tobytes()


def copy_rows(rows: Iterable[tuple[Any, ...]], *, using: str = "default") -> int:
    """COPY rows shaped like :data:`CHUNK_COLUMNS` (vector as a list of floats or text).

    ``context`` may be left out of a row (it is then empty).
    """
    rows = list(rows)
    if not rows:
        return 0
    connection = connections[using]
    # COPY runs on the raw psycopg cursor; wrap_database_errors turns its errors into
    # django.db ones (IntegrityError...), as every other query of the ingestion raises.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # Resolve the languages before the COPY: no other query can run during it.
        # An unknown configuration fails here, as the text COPY would have failed.
        cursor.execute(
            "SELECT name, name::regconfig::oid FROM unnest(%s::text[]) AS name",
            [sorted({row[6] for row in rows})],
        )
        oids = dict(cursor.fetchall())
        with cursor.cursor.copy(COPY_SQL) as copy:
            copy.set_types(COPY_TYPES)
            for document_id, index, content, metadata, embedding, embedder, language, *context in rows:
                copy.write_row(
                    (
                        document_id, index, content, metadata, vector_binary(embedding), embedder, oids[language],
                        context[0] if context else "",
                    )
                )
    return len(rows)


def chunk_rows(
    document_id: int, drafts: Sequence[ChunkDraft], vectors: Sequence[Sequence[float]], contexts: Sequence[str], *,
    embedder_identity: str, language: str,
) -> Iterator[tuple[Any, ...]]:
    """One document's chunks as :func:`copy_rows` takes them, numbered from 0."""
    for index, (draft, vector, context) in enumerate(zip(drafts, vectors, contexts, strict=True)):
        yield (document_id, index, draft.content, draft.metadata, vector, embedder_identity, language, context)


# --- advisory locks: one worker per document -------------------------------------------

# First key of the two-int advisory lock; the second is the document id. django-rag's
# other advisory locks live under 0x52414700 ("RAG\0"; key 1 is the BM25 statistics
# lock of migration 0002), so documents get a namespace of their own: sharing one made
# document 1's ingestion block every chunk write for as long as it ran.
_LOCK_NAMESPACE = 0x52414701  # "RAG\1"

# The second key computed in SQL from a bigint id, as advisory_lock_key() does in Python.
_SQL_LOCK_KEY = "((id %% 4294967296 + 2147483648) %% 4294967296 - 2147483648)::int4"


def advisory_lock_key(document_id: int) -> tuple[int, int]:
    """The ``pg_advisory_lock(int4, int4)`` keys that guard one document's ingestion.

    Document ids are bigints; the second key is the id wrapped into int4's range, since
    PostgreSQL has no (int4, int8) variant and would reject an id past 2**31 outright.
    """
    return _LOCK_NAMESPACE, (document_id + 2**31) % 2**32 - 2**31


class DocumentLock:
    """``with DocumentLock(document_id, using) as acquired:`` the document's advisory lock,
    taken without waiting (``acquired`` is False when another worker holds it)."""

    def __init__(self, document_id: int, using: str) -> None:
        self.document_id, self.using, self.held = document_id, using, False

    def __enter__(self) -> bool:
        with connections[self.using].cursor() as cursor:
            # Parenthesised: with client-side binding "-2147483648::int4" (the key of
            # document 2**31) would parse as -(2147483648::int4), which overflows.
            cursor.execute("SELECT pg_try_advisory_lock((%s)::int4, (%s)::int4)", advisory_lock_key(self.document_id))
            self.held = bool(cursor.fetchone()[0])
        return self.held

    def __exit__(self, *exc_info: Any) -> None:
        if self.held:
            _unlock(lambda cursor: cursor.execute(
                "SELECT pg_advisory_unlock((%s)::int4, (%s)::int4)", advisory_lock_key(self.document_id)
            ), self.using)


def try_lock_documents(ids: list[int], using: str) -> set[int]:
    """Take the advisory lock of each document that no other worker holds; returns their ids."""
    if not ids:
        return set()
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM unnest(%s::bigint[]) AS id WHERE pg_try_advisory_lock(%s::int4, {_SQL_LOCK_KEY})",
            [ids, _LOCK_NAMESPACE],
        )
        return {row[0] for row in cursor.fetchall()}


def unlock_documents(ids: set[int], using: str) -> None:
    """Release the locks :func:`try_lock_documents` took."""
    if not ids:
        return
    _unlock(lambda cursor: cursor.execute(
        f"SELECT pg_advisory_unlock(%s::int4, {_SQL_LOCK_KEY}) FROM unnest(%s::bigint[]) AS id",
        [_LOCK_NAMESPACE, sorted(ids)],
    ), using)


def _unlock(statement: Callable[[Any], None], using: str) -> None:
    # A connection cut mid-ingestion (a restart, pg_terminate_backend) took its session's
    # locks with it: failing here would only hide the error that ended the ingestion.
    try:
        with connections[using].cursor() as cursor:
            statement(cursor)
    except DatabaseError:
        logger.error("Could not release an ingestion's advisory lock (connection lost?)", exc_info=True)


# --- the chunk swap -------------------------------------------------------------------


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
    lease: Lease | None = None,
    side_vectors: dict[str, list[list[float]]] | None = None,
) -> None:
    """Swap a document's chunks in one transaction: readers see the old set or the new one.

    ``document_fields`` are written to the document in the same transaction. Its
    signature must commit with the chunks it describes: were it written afterwards and
    that write failed, the next ingest of the old content would call the new chunks
    "unchanged". With a ``lease``, raises :class:`~django_rag.exceptions.LeaseLost`
    (writing nothing) when another worker took the document over. ``side_vectors``: the
    chunks' vectors for the embedders being re-embedded (:mod:`django_rag.reembed`),
    computed here when not given.
    """
    contexts = contexts if contexts is not None else [""] * len(drafts)
    if side_vectors is None:
        texts = [Chunk.compose_embedding_text(context, d.content) for context, d in zip(contexts, drafts)]
        side_vectors = reembed.side_vectors(texts, embedder, vectors, using=using)
    rows = chunk_rows(doc.pk, drafts, vectors, contexts, embedder_identity=embedder.identity, language=language)
    with transaction.atomic(using=using):
        # Lock the document row so a concurrent delete of the document waits for us.
        if lease is None:
            Document.objects.using(using).select_for_update().filter(pk=doc.pk).exists()
        else:
            alive, ours = lease.held([doc.pk])
            if alive and not ours:
                raise LeaseLost(f"Document {doc.pk} was taken over by another worker; its chunks were left alone.")
        Chunk.objects.using(using).filter(document_id=doc.pk)._raw_delete(using)
        copy_rows(rows, using=using)
        reembed.write_side_vectors([(doc.pk, side_vectors)], using)
        if document_fields:
            Document.objects.using(using).filter(pk=doc.pk).update(**document_fields)


class NewChunks(Protocol):
    """One document's new chunks, as :func:`replace_chunks_of_many` reads them (the
    pipeline's document in progress)."""

    doc: Document
    embedder: BaseEmbedder
    language: str
    drafts: list[ChunkDraft]
    contexts: list[str]
    vectors: list[list[float]]
    side_vectors: dict[str, list[list[float]]]
    named: bool  # doc.title came from the content: store it unless someone titled the document


Work = TypeVar("Work", bound=NewChunks)


@dataclass
class BatchWritten(Generic[Work]):
    """What :func:`replace_chunks_of_many` did with each document of its batch."""

    written: list[Work]
    #: Deleted since they were read: their chunks would fail the foreign key at commit.
    gone: list[Work]
    #: Taken over by another worker after the batch's lease expired.
    taken: list[Work]
    #: The document fields written with each document's chunks, by primary key.
    document_fields: dict[int, dict[str, Any]]


def replace_chunks_of_many(
    batch: list[Work], *, lease: Lease, using: str, document_fields: Callable[[Work, float], dict[str, Any]]
) -> BatchWritten[Work]:
    """Swap the chunks of every document in ``batch`` in one transaction: one DELETE and one COPY.

    ``document_fields(work, seconds)`` gives the fields to write on a document with its
    chunks, ``seconds`` being its share (by chunks) of the write so far. Documents
    deleted or taken over meanwhile are left out (see :class:`BatchWritten`). A
    ``DatabaseError`` leaves nothing written.
    """
    started = time.perf_counter()
    with transaction.atomic(using=using):
        # Lock the rows so a concurrent delete waits; a document deleted since it was
        # read is left out (its chunks would fail the foreign key at commit), and so
        # is one another worker took over after this batch's lease expired.
        alive, ours = lease.held([work.doc.pk for work in batch])
        gone = [work for work in batch if work.doc.pk not in alive]
        taken = [work for work in batch if work.doc.pk in alive and work.doc.pk not in ours]
        batch = [work for work in batch if work.doc.pk in ours]
        Chunk.objects.using(using).filter(document_id__in=[work.doc.pk for work in batch])._raw_delete(using)
        copy_rows(
            (
                row
                for work in batch
                for row in chunk_rows(
                    work.doc.pk, work.drafts, work.vectors, work.contexts,
                    embedder_identity=work.embedder.identity, language=work.language,
                )
            ),
            using=using,
        )
        reembed.write_side_vectors([(work.doc.pk, work.side_vectors) for work in batch], using)
        total_chunks = sum(len(work.drafts) for work in batch) or 1
        written_seconds = time.perf_counter() - started
        fields = {
            work.doc.pk: document_fields(work, written_seconds * len(work.drafts) / total_chunks) for work in batch
        }
        update_documents(fields, using)
        save_titles(batch, using)
    return BatchWritten(batch, gone, taken, fields)


def update_documents(fields: dict[int, dict[str, Any]], using: str) -> None:
    """Write each document's fields (``{pk: {name: value}}``, the same names for all); one UPDATE for the lot."""
    if not fields:
        return
    names = list(next(iter(fields.values())))
    docs = []
    for pk, values in fields.items():
        doc = Document(pk=pk)
        for name, value in values.items():
            setattr(doc, name, value)
        docs.append(doc)
    Document.objects.using(using).bulk_update(docs, names)


def save_titles(works: Iterable[NewChunks], using: str) -> None:
    """Store the titles the pipeline found in the content, unless someone titled the document meanwhile."""
    for work in works:
        if work.named:
            Document.objects.using(using).filter(pk=work.doc.pk, title="").update(title=work.doc.title)


def remove_chunks(document: Document | int, *, using: str = "default") -> int:
    """Delete a document's chunks and mark it ``pending``; returns how many were deleted.

    Takes the same advisory lock as :func:`~django_rag.ingestion.ingest` (raising
    :class:`~django_rag.exceptions.DocumentBusy` when a worker holds it), so chunks are
    never removed from under a running ingestion. The signature is cleared too: the
    next ``ingest()`` re-embeds the document instead of calling it unchanged.
    """
    document_id = document if isinstance(document, int) else document.pk
    with DocumentLock(document_id, using) as acquired:
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
