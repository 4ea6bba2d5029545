"""Changing the embedding model without downtime (``rag_reembed``, ``rag_activate_embedder``).

Where vectors live:

- ``Chunk.embedding`` holds the vectors ingestion made (the embedder it was given,
  ``"default"`` unless told otherwise), exactly as before this module existed.
- ``django_rag_chunk_embedding`` (migration 0012) holds, one row per chunk, the vectors
  of every embedder re-embedded with :func:`reembed`, each with a partial HNSW index of
  its own on that table. A chunk the embedder failed on has a row with a NULL vector
  and the error, so failures are recorded, never skipped silently.

Which embedder searches use is stored in the database (:class:`EmbedderState`, the row
with ``active``), so every process switches together; with no active row, it is the
``"default"`` alias as before. Activating is one UPDATE in one transaction, and the
previous embedder's vectors are kept (ingestion keeps writing both), so switching back
is as instant as switching. Each process reads that state at most once per
``DJANGO_RAG["EMBEDDER_STATE_TTL"]`` seconds (:func:`snapshot`); a search that still
uses the previous embedder for that second finds every document all the same.

Why vectors were not all moved to the side table: every reader of ``Chunk.embedding``
(the retrieval SQL hand-tuned on it, the writer's COPY, the indexes' management, the
benchmarks) would have changed, and the hybrid search of the embedder in the chunk
table would have gained a join. Here the common case runs the very SQL it ran before.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import ProgrammingError, connections, router, transaction
from django.utils import timezone

from .conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from .embedders import BaseEmbedder, embedders
from .embedder_state import SIDE_TABLE
from .exceptions import DjangoRAGError, EmbeddingError, EmbeddingTimeout, EmbeddingUnavailable

logger = logging.getLogger("django_rag.reembed")

CHUNK_TABLE = "django_rag_chunk"
#: Re-embedding stops after this many batches in a row fail (the provider is down):
#: recording every chunk of the corpus as failed would tell nothing more.
MAX_FAILED_BATCHES_IN_A_ROW = 3


class ReembedError(DjangoRAGError):
    """A re-embedding, activation or drop that cannot be done as asked; the message says why."""


# The state as each process sees it lives with the models (searches read it):
# django_rag.embedder_state. Imported here so that reembed.snapshot() etc. keep working
# (re-exported, "as" tells type checkers so).
from .embedder_state import (  # noqa: E402
    Snapshot as Snapshot,
    _load,
    _snapshots,
    active_alias as active_alias,
    clear_cache as clear_cache,
    in_side_table,
    snapshot as snapshot,
    state_database as state_database,
)


def side_index_name(embedder: BaseEmbedder) -> str:
    from .vector_indexes import vector_type

    key = embedder.identity + (":halfvec" if vector_type(embedder) == "halfvec" else "")
    return f"django_rag_chunkemb_hnsw_{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"


# --- ingestion: documents written meanwhile get every maintained embedder's vectors -------


def maintained_embedders(using: str) -> list[tuple[BaseEmbedder, bool]]:
    """``(embedder, active)`` for each embedder whose vectors ingestion must add to the side table."""
    state = snapshot(using)
    result = []
    for identity, alias in state.side.items():
        if alias not in embedders or embedders[alias].identity != identity:
            # Removed from the settings, or its options changed (check E103 says so):
            # vectors made now would not match the stored ones.
            continue
        result.append((embedders[alias], alias == state.active))
    return result


def side_vectors(
    texts: list[str], primary: BaseEmbedder, primary_vectors: list[list[float]], *, using: str,
    heartbeat: Callable[[], None] | None = None,
) -> dict[str, list[list[float]]]:
    """The vectors of ``texts`` for each maintained embedder: ``{identity: vectors}``.

    A failure of the active embedder fails the ingestion (the document keeps its previous
    chunks and is marked failed, as with any embedder failure): its chunks would
    otherwise be missing from semantic search. A failure of an embedder still being
    built only leaves those chunks for ``rag_reembed`` to do on its next run.
    """
    from .ingestion.pipeline import embed_in_batches

    vectors: dict[str, list[list[float]]] = {}
    for embedder, active in maintained_embedders(using):
        if embedder.identity == primary.identity:
            vectors[embedder.identity] = primary_vectors
            continue
        try:
            vectors[embedder.identity] = embed_in_batches(embedder, texts, heartbeat=heartbeat) if texts else []
        except EmbeddingError as exc:
            if active:
                raise type(exc)(f"The active embedder {embedder.alias!r} (re-embedded) failed: {exc}") from exc
            logger.warning(
                "Embedder %r, being re-embedded, failed on a new document (%s); rag_reembed --to %s will do its chunks.",
                embedder.alias, exc, embedder.alias,
            )
    return vectors


def write_side_vectors(documents: Sequence[tuple[int, dict[str, list[list[float]]]]], using: str) -> None:
    """Store side vectors of freshly written chunks, found by ``(document, position)``.

    Called inside the transaction that wrote the chunks, so a chunk is never visible
    without its vectors.
    """
    from .retrieval import vector_literal

    by_identity: dict[str, tuple[list[int], list[int], list[str]]] = {}
    for document_id, vectors in documents:
        for identity, rows in vectors.items():
            ids, positions, literals = by_identity.setdefault(identity, ([], [], []))
            for position, vector in enumerate(rows):
                ids.append(document_id)
                positions.append(position)
                literals.append(vector_literal(vector))
    if not by_identity:
        return
    with connections[using].cursor() as cursor:
        for identity, (ids, positions, literals) in by_identity.items():
            cursor.execute(
                f"INSERT INTO {SIDE_TABLE} (chunk_id, embedder, embedding)"
                " SELECT c.id, %s, v.embedding::vector"
                ' FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS v(document_id, position, embedding)'
                f' JOIN {CHUNK_TABLE} c ON c.document_id = v.document_id AND c."index" = v.position'
                " ON CONFLICT (chunk_id, embedder) DO UPDATE"
                " SET embedding = EXCLUDED.embedding, error = '', updated_at = now()",
                [identity, ids, positions, literals],
            )


# --- re-embedding --------------------------------------------------------------------------


@dataclass
class ReembedResult:
    alias: str
    embedded: int = 0
    failed: int = 0
    seconds: float = 0.0
    missing: int = 0  # chunks still without a vector at the end
    index: str | None = None
    stopped: str = ""  # why the run stopped early, if it did

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def configured(alias: str) -> BaseEmbedder:
    if alias not in embedders:
        choices = ", ".join(sorted(embedders)) or "none"
        raise ReembedError(f'{alias!r} is not an entry of DJANGO_RAG["EMBEDDERS"] (configured: {choices}).')
    return embedders[alias]


def prepare(alias: str, using: str = "default") -> BaseEmbedder:
    """Record ``alias`` as re-embedded into the side table (from now on ingestion writes its vectors too)."""
    from .models import EmbedderState

    embedder = configured(alias)
    with transaction.atomic(using=using):
        row = EmbedderState.objects.using(using).select_for_update().filter(alias=alias).first()
        if row is not None and row.side_table and row.identity != embedder.identity:
            raise ReembedError(
                f"The vectors stored for {alias!r} were made by {row.identity}, but the settings now give "
                f"{embedder.identity}. Run `rag_reembed --drop {alias}` first, then re-embed."
            )
        if row is None or not row.side_table:
            if _column_has(embedder, using) and (row is None or row.identity == embedder.identity):
                raise ReembedError(
                    f"{alias!r} ({embedder.identity}) already made the vectors in the chunk table: "
                    "there is nothing to re-embed. Re-embed into another entry of EMBEDDERS."
                )
            EmbedderState.objects.using(using).update_or_create(
                alias=alias,
                defaults={"identity": embedder.identity, "dimensions": int(embedder.dimensions), "side_table": True},
            )
    clear_cache()
    return embedder


def _column_has(embedder: BaseEmbedder, using: str) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {CHUNK_TABLE} WHERE embedder = %s)", [embedder.identity])
        return bool(cursor.fetchone()[0])


def reembed(
    alias: str,
    *,
    batch_size: int | None = None,
    rate: float | None = None,
    first_id: int = 0,
    last_id: int | None = None,
    build_index: bool = True,
    progress: Any = None,
    using: str = "default",
    should_stop: Callable[[], bool] | None = None,
) -> ReembedResult:
    """Compute ``alias``'s vector for every chunk that has none, in batches; build its index.

    Resumable: it does the chunks still without a vector, so a run killed half-way
    continues where it stopped. Chunks are read in id order (``first_id`` < id <=
    ``last_id`` when given: the slice of one queued task). ``rate``: at most this many
    chunks per second (paid providers). An embedder error is retried
    (``EMBED_RETRIES``), then recorded on each chunk of the batch; after
    ``MAX_FAILED_BATCHES_IN_A_ROW`` such batches the run stops. ``progress``: an object
    with ``advance(n, note)`` (:class:`django_rag.management.progress.ProgressBar`).
    """
    from .ingestion.pipeline import embed_in_batches
    from .models import Chunk
    from . import validation

    embedder = prepare(alias, using)
    size = validation.integer("batch_size", batch_size or get_setting("EMBED_BATCH_SIZE") * 4)
    if rate is not None:
        rate = validation.number("rate", rate, minimum=0.001)
    result = ReembedResult(alias)
    started = time.perf_counter()
    cursor_id = int(first_id)
    failed_in_a_row = 0
    while True:
        if should_stop is not None and should_stop():
            result.stopped = "asked to stop"
            break
        batch_started = time.perf_counter()
        rows = _missing_batch(embedder, cursor_id, last_id, size, using)
        if not rows:
            break
        cursor_id = rows[-1][0]
        ids = [row[0] for row in rows]
        read = len(ids)
        texts = [Chunk.compose_embedding_text(context, content) for _id, context, content in rows]
        try:
            vectors = embed_in_batches(embedder, texts)
        except (EmbeddingTimeout, EmbeddingUnavailable) as exc:
            # An outage, already retried (EMBED_RETRIES): the whole batch is recorded,
            # and a few such batches in a row stop the run.
            failed_in_a_row += 1
            result.failed += len(ids)
            _record_failures(embedder, ids, str(exc), using)
            if progress is not None:
                progress.advance(len(ids), f"{len(ids)} failed: {exc}"[:120])
            if failed_in_a_row >= MAX_FAILED_BATCHES_IN_A_ROW:
                result.stopped = f"{failed_in_a_row} batches in a row failed; last error: {exc}"
                break
            continue
        except EmbeddingError:
            # A refusal (a chunk the model will not take, a malformed answer): each chunk
            # alone, so that only the culprits are recorded as failed.
            ids, vectors = _one_by_one(embedder, ids, texts, result, using)
        failed_in_a_row = 0
        _store(embedder, ids, vectors, using)
        result.embedded += len(ids)
        if progress is not None:
            progress.advance(read)
        _save_progress(alias, result, time.perf_counter() - started, using)
        if rate:
            pause = len(ids) / rate - (time.perf_counter() - batch_started)
            if pause > 0:
                time.sleep(pause)
    result.seconds = time.perf_counter() - started
    _save_progress(alias, result, result.seconds, using)
    if last_id is None:
        _delete_orphans(embedder, using)
    if build_index and not result.stopped:
        result.index = ensure_side_index(embedder, using)
    result.missing = coverage(embedder, using)["missing"]
    return result


def _one_by_one(
    embedder: BaseEmbedder, ids: list[int], texts: list[str], result: ReembedResult, using: str
) -> tuple[list[int], list[list[float]]]:
    from .ingestion.pipeline import embed_in_batches

    done_ids, vectors = [], []
    for chunk_id, text in zip(ids, texts):
        try:
            vectors.extend(embed_in_batches(embedder, [text]))
            done_ids.append(chunk_id)
        except EmbeddingError as exc:
            result.failed += 1
            _record_failures(embedder, [chunk_id], str(exc), using)
    return done_ids, vectors


def _missing_batch(
    embedder: BaseEmbedder, after: int, last: int | None, size: int, using: str
) -> list[tuple[int, str, str]]:
    # An anti-join on the side table's primary key: chunks without a vector of this
    # embedder, failed ones included (a new run tries them again), in id order.
    params: list[Any] = [after]
    bound = ""
    if last is not None:
        bound = " AND c.id <= %s"
        params.append(int(last))
    params += [embedder.identity, size]
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.context, c.content FROM {CHUNK_TABLE} c WHERE c.id > %s{bound}"
            f" AND NOT EXISTS (SELECT 1 FROM {SIDE_TABLE} e"
            "  WHERE e.chunk_id = c.id AND e.embedder = %s AND e.embedding IS NOT NULL)"
            " ORDER BY c.id LIMIT %s",
            params,
        )
        rows: list[tuple[int, str, str]] = cursor.fetchall()  # (id, context, content)
        return rows


def _store(embedder: BaseEmbedder, ids: list[int], vectors: list[list[float]], using: str) -> None:
    """Write a batch: binary COPY into a temporary table, then one INSERT from it.

    The binary COPY spares Python the vectors' text form and the server its parsing
    (see django_rag.ingestion.writer); the INSERT keeps ON CONFLICT, which COPY has not.
    The vectors were checked by the embedder's ``validate()`` (embed_in_batches).
    """
    from .ingestion.writer import vector_binary

    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS django_rag_reembed_staging (chunk_id bigint, embedding vector)"
            " ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy("COPY django_rag_reembed_staging (chunk_id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(("int8", "bytea"))
            for chunk_id, vector in zip(ids, vectors, strict=True):
                copy.write_row((chunk_id, vector_binary(vector)))
        cursor.execute(
            f"INSERT INTO {SIDE_TABLE} (chunk_id, embedder, embedding)"
            " SELECT s.chunk_id, %s, s.embedding FROM django_rag_reembed_staging s"
            # A chunk deleted since it was read (its document re-ingested) is left out; one
            # deleted between this check and the commit leaves an orphan row, which searches
            # never return (they join the chunks) and the end of the run deletes.
            f" WHERE EXISTS (SELECT 1 FROM {CHUNK_TABLE} c WHERE c.id = s.chunk_id)"
            " ON CONFLICT (chunk_id, embedder) DO UPDATE SET embedding = EXCLUDED.embedding, error = '', updated_at = now()",
            [embedder.identity],
        )


def _delete_orphans(embedder: BaseEmbedder, using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SIDE_TABLE} e WHERE e.embedder = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {CHUNK_TABLE} c WHERE c.id = e.chunk_id)",
            [embedder.identity],
        )
        deleted: int = cursor.rowcount
        return deleted


def _record_failures(embedder: BaseEmbedder, ids: list[int], error: str, using: str) -> None:
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SIDE_TABLE} (chunk_id, embedder, embedding, error, attempts)"
            " SELECT v.id, %s, NULL, %s, 1 FROM unnest(%s::bigint[]) AS v(id)"
            f" WHERE EXISTS (SELECT 1 FROM {CHUNK_TABLE} c WHERE c.id = v.id)"
            " ON CONFLICT (chunk_id, embedder) DO UPDATE"
            f" SET error = EXCLUDED.error, attempts = {SIDE_TABLE}.attempts + 1, updated_at = now()"
            f" WHERE {SIDE_TABLE}.embedding IS NULL",
            [embedder.identity, error[:2000], ids],
        )


def _save_progress(alias: str, result: ReembedResult, seconds: float, using: str) -> None:
    from .models import EmbedderState

    EmbedderState.objects.using(using).filter(alias=alias).update(progress={
        "embedded": result.embedded, "failed": result.failed, "seconds": round(seconds, 3),
        "rate": round(result.embedded / seconds, 2) if seconds else None,
        "updated_at": timezone.now().isoformat(),
    })


def ensure_side_index(embedder: BaseEmbedder, using: str = "default") -> str | None:
    """Build ``embedder``'s HNSW index on the side table if it is missing; return its name.

    Built ``CONCURRENTLY`` (ingestion keeps writing meanwhile) unless a transaction is
    open, where PostgreSQL does not allow it. An index left invalid by an interrupted
    build is dropped and built again.
    """
    from .vector_indexes import can_be_indexed, vector_type

    if not can_be_indexed(embedder):
        return None
    name = side_index_name(embedder)
    connection = connections[using]
    state = side_index_state(embedder, using)
    if state == "valid":
        return name
    concurrently = "" if connection.in_atomic_block else " CONCURRENTLY"
    kind, dims = vector_type(embedder), int(embedder.dimensions)
    identity = embedder.identity.replace("'", "''")
    workers = get_setting("REEMBED_INDEX_WORKERS")
    with connection.cursor() as cursor:
        if state == "invalid":
            cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {name}")
        if workers is not None:
            # The build runs while the site searches: with the server's default of 2
            # parallel workers it took every core of a 2-core machine, and the searches'
            # p95 during a re-embedding rose from 1.02x idle to 2.48x (benchmarks/RESULTS.md,
            # "Changing the embedding model"). For this statement only: the connection may
            # be a queue worker's, kept for the next task. Inside a transaction SET LOCAL
            # ends with it (a RESET after a failed build would fail too, hiding the error).
            scope = "LOCAL " if connection.in_atomic_block else ""
            cursor.execute(f"SET {scope}max_parallel_maintenance_workers = {int(workers)}")
        try:
            cursor.execute(
                f"CREATE INDEX{concurrently} IF NOT EXISTS {name} ON {SIDE_TABLE} "
                f"USING hnsw ((embedding::{kind}({dims})) {kind}_cosine_ops) "
                f"WITH (m = {int(get_setting('HNSW_M'))}, ef_construction = {int(get_setting('HNSW_EF_CONSTRUCTION'))}) "
                f"WHERE embedder = '{identity}' AND embedding IS NOT NULL"
            )
        finally:
            if workers is not None and not connection.in_atomic_block:
                cursor.execute("RESET max_parallel_maintenance_workers")
    return name


def side_index_state(embedder: BaseEmbedder, using: str = "default") -> str:
    """``"valid"``, ``"invalid"`` (a concurrent build interrupted or under way) or ``"missing"``."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [side_index_name(embedder)],
        )
        row = cursor.fetchone()
    return "missing" if row is None else ("valid" if row[0] else "invalid")


# --- coverage, activation, drop --------------------------------------------------------------


def coverage(embedder: BaseEmbedder, using: str = "default", *, side: bool | None = None) -> dict[str, int]:
    """``{"total", "covered", "failed", "missing"}`` chunks for ``embedder``, where its vectors are."""
    if side is None:
        side = in_side_table(embedder, using) or _recorded_side(embedder, using)
    with connections[using].cursor() as cursor:
        if side:
            cursor.execute(
                f"SELECT count(*), count(e.embedding), count(e.chunk_id) - count(e.embedding)"
                f" FROM {CHUNK_TABLE} c LEFT JOIN {SIDE_TABLE} e ON e.chunk_id = c.id AND e.embedder = %s",
                [embedder.identity],
            )
        else:
            cursor.execute(
                f"SELECT count(*), count(*) FILTER (WHERE embedder = %s), 0 FROM {CHUNK_TABLE}", [embedder.identity]
            )
        total, covered, failed = cursor.fetchone()
    return {"total": total, "covered": covered, "failed": failed, "missing": total - covered}


def coverage_text(counts: dict[str, Any]) -> str:
    """``coverage()``'s counts as the admin and ``rag_reembed --status`` show them:
    ``"1,200 / 2,000 chunks (60.0%), 3 failed"``."""
    total = counts["total"]
    share = f"{counts['covered'] / total:.1%}" if total else "-"
    text = f"{counts['covered']:,} / {total:,} chunks ({share})"
    if counts.get("failed"):
        text += f", {counts['failed']:,} failed"
    return text


def _recorded_side(embedder: BaseEmbedder, using: str) -> bool:
    from .models import EmbedderState

    return EmbedderState.objects.using(using).filter(identity=embedder.identity, side_table=True).exists()


def coverage_by_collection(embedder: BaseEmbedder, using: str = "default") -> list[dict[str, Any]]:
    """Coverage per collection (``None``: documents in no collection), for ``--status``."""
    side = in_side_table(embedder, using) or _recorded_side(embedder, using)
    if side:
        sql = (
            "SELECT o.slug, count(*), count(e.embedding), count(e.chunk_id) - count(e.embedding)"
            f" FROM {CHUNK_TABLE} c JOIN django_rag_document d ON d.id = c.document_id"
            " LEFT JOIN django_rag_collection o ON o.id = d.collection_id"
            f" LEFT JOIN {SIDE_TABLE} e ON e.chunk_id = c.id AND e.embedder = %s GROUP BY o.slug ORDER BY o.slug"
        )
    else:
        sql = (
            "SELECT o.slug, count(*), count(*) FILTER (WHERE c.embedder = %s), 0"
            f" FROM {CHUNK_TABLE} c JOIN django_rag_document d ON d.id = c.document_id"
            " LEFT JOIN django_rag_collection o ON o.id = d.collection_id GROUP BY o.slug ORDER BY o.slug"
        )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [embedder.identity])
        return [
            {"collection": slug, "total": total, "covered": covered, "failed": failed, "missing": total - covered}
            for slug, total, covered, failed in cursor.fetchall()
        ]


def failures(embedder: BaseEmbedder, using: str = "default", limit: int = 50) -> list[dict[str, Any]]:
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT e.chunk_id, c.document_id, e.attempts, e.error, e.updated_at FROM {SIDE_TABLE} e"
            f" JOIN {CHUNK_TABLE} c ON c.id = e.chunk_id"
            " WHERE e.embedder = %s AND e.embedding IS NULL ORDER BY e.chunk_id LIMIT %s",
            [embedder.identity, int(limit)],
        )
        return [
            {"chunk": chunk, "document": document, "attempts": attempts, "error": error, "at": at}
            for chunk, document, attempts, error, at in cursor.fetchall()
        ]


@dataclass
class Activation:
    alias: str
    previous: str
    coverage: dict[str, int]
    forced: bool = False


def activate(alias: str, *, force: bool = False, using: str = "default") -> Activation:
    """Make ``alias`` the embedder of every search, atomically, in every process.

    Refused (:class:`ReembedError`) when it has no vector for some chunks, or its
    side-table index is not built, unless ``force``. The previous embedder's vectors
    stay, so activating it again is a rollback as instant as this.
    """
    from .models import EmbedderState
    from .vector_indexes import can_be_indexed

    embedder = configured(alias)
    with transaction.atomic(using=using):
        # Activations one at a time; searches are never blocked (they only read).
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(1380009728, 17)")  # 'RAG\0', 17: activations
        rows = {row.alias: row for row in EmbedderState.objects.using(using).select_for_update()}
        previous = next((a for a, row in rows.items() if row.active), DEFAULT_EMBEDDER_ALIAS)
        row = rows.get(alias)
        side = row is not None and row.side_table
        if side and row is not None and row.identity != embedder.identity:
            raise ReembedError(
                f"The vectors stored for {alias!r} were made by {row.identity}, but the settings now give "
                f"{embedder.identity}: activating it would search vectors of another model. "
                f"Run `rag_reembed --drop {alias}`, then `rag_reembed --to {alias}`."
            )
        counts = coverage(embedder, using, side=side)
        if not force:
            if counts["missing"]:
                failed = f", {counts['failed']} of them failed (rag_reembed --status lists them)" if counts["failed"] else ""
                how = f"run `rag_reembed --to {alias}` to finish" if side else f"re-embed it with `rag_reembed --to {alias}`"
                raise ReembedError(
                    f"Not activating {alias!r}: it has vectors for {counts['covered']} of {counts['total']} chunks "
                    f"({counts['missing']} missing{failed}). Searches would miss those chunks: {how}, "
                    "or pass --force to activate it anyway."
                )
            if side and can_be_indexed(embedder) and side_index_state(embedder, using) != "valid":
                raise ReembedError(
                    f"Not activating {alias!r}: its HNSW index is not built yet, so every search would scan all "
                    f"its vectors. Run `rag_reembed --to {alias}` to build it, or pass --force."
                )
        EmbedderState.objects.using(using).filter(active=True).exclude(alias=alias).update(active=False)
        EmbedderState.objects.using(using).update_or_create(
            alias=alias,
            defaults={
                "identity": embedder.identity, "dimensions": int(embedder.dimensions), "active": True,
                "activated_at": timezone.now(),
            },
        )
    clear_cache()
    return Activation(alias, previous, counts, forced=force and bool(counts["missing"]))


def drop(alias: str, *, using: str = "default", wait: float | None = None) -> int:
    """Delete ``alias``'s side-table vectors and index; returns how many rows went.

    Refused for the active embedder, and for vectors in the chunk table (they are the
    chunks' own column: re-ingest with another embedder to replace them). ``wait``:
    seconds to let every process see the change before the rows go (default: twice
    ``EMBEDDER_STATE_TTL``), so that no ingestion still writes them.
    """
    from .models import EmbedderState

    state = EmbedderState.objects.using(using).filter(alias=alias).first()
    if state is not None and state.active:
        raise ReembedError(f"{alias!r} is the active embedder: activate another one before dropping it.")
    if state is None or not state.side_table:
        if alias in embedders and _column_has(embedders[alias], using):
            raise ReembedError(
                f"The vectors of {alias!r} are the chunks' own (Chunk.embedding), not re-embedded ones: "
                "they cannot be dropped on their own. They cost no search time while another embedder is active."
            )
        raise ReembedError(f"There are no re-embedded vectors of {alias!r} to drop.")
    identity = state.identity
    state.delete()
    clear_cache()
    if wait is None:
        wait = 2 * float(get_setting("EMBEDDER_STATE_TTL"))
    if wait and not connections[using].in_atomic_block:
        time.sleep(wait)
    connection = connections[using]
    concurrently = "" if connection.in_atomic_block else " CONCURRENTLY"
    key = identity
    names = [f"django_rag_chunkemb_hnsw_{hashlib.sha1(k.encode('utf-8')).hexdigest()[:16]}" for k in (key, key + ":halfvec")]
    deleted: int = 0
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {name}")
        # In slices, so that no single statement holds a long transaction on a big table.
        while True:
            cursor.execute(
                f"DELETE FROM {SIDE_TABLE} WHERE (chunk_id, embedder) IN"
                f" (SELECT chunk_id, embedder FROM {SIDE_TABLE} WHERE embedder = %s LIMIT 10000)",
                [identity],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < 10000:
                break
    return deleted


def status(using: str = "default") -> list[dict[str, Any]]:
    """One entry per configured or recorded embedder: where its vectors are, coverage, failures, ETA."""
    from .models import EmbedderState

    rows = {row.alias: row for row in EmbedderState.objects.using(using)}
    active = next((a for a, row in rows.items() if row.active), DEFAULT_EMBEDDER_ALIAS)
    entries = []
    for alias in sorted(set(embedders) | set(rows)):
        row = rows.get(alias)
        entry: dict[str, Any] = {"alias": alias, "active": alias == active, "configured": alias in embedders}
        if alias not in embedders:
            assert row is not None  # recorded, no longer configured
            entry.update(identity=row.identity, where="side table" if row.side_table else "chunk table")
            entries.append(entry)
            continue
        embedder = embedders[alias]
        side = bool(row and row.side_table)
        entry.update(
            identity=embedder.identity, where="side table" if side else "chunk table",
            stale=bool(row and row.identity != embedder.identity),
            coverage=coverage(embedder, using, side=side),
        )
        if side and row is not None:
            entry["collections"] = coverage_by_collection(embedder, using)
            entry["index"] = side_index_state(embedder, using)
            entry["failures"] = failures(embedder, using)
            progress = row.progress or {}
            entry["progress"] = progress
            rate = progress.get("rate")
            missing = entry["coverage"]["missing"]
            entry["eta_seconds"] = round(missing / rate) if rate and missing else (0 if not missing else None)
        entries.append(entry)
    return entries


# --- the queue ----------------------------------------------------------------------------


def slices(alias: str, *, slice_size: int = 5000, using: str = "default") -> list[tuple[int, int]]:
    """The chunk id ranges ``(first, last]`` still to re-embed for ``alias``, ``slice_size`` ids each.

    ``django_rag.tasks.queue_reembed_slices`` queues one task per range
    (``rag_reembed --queue``), so several workers share the work.
    """
    prepare(alias, using)
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM {CHUNK_TABLE}")
        low, high = cursor.fetchone()
    ranges = []
    start = low - 1
    while start < high:
        stop = min(start + slice_size, high)
        ranges.append((start, stop))
        start = stop
    return ranges


def reembed_task(alias: str, first_id: int, last_id: int, rate: float | None = None) -> dict[str, Any]:
    """One queued slice of a re-embedding: chunks with ``first_id`` < id <= ``last_id``.

    The index is built by the next ``rag_reembed --to`` run (which then has nothing
    left to embed), not by each task.
    """
    result = reembed(alias, first_id=first_id, last_id=last_id, rate=rate, build_index=False)
    return {"embedded": result.embedded, "failed": result.failed, "stopped": result.stopped}


__all__ = [
    "ReembedError", "Snapshot", "activate", "slices", "active_alias", "clear_cache", "coverage", "drop", "reembed", "snapshot",
    "status",
]
