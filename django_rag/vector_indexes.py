"""One partial HNSW index per configured embedder.

The app's migration leaves ``Chunk.embedding`` as an untyped ``vector`` so that a site
can pick any embedder (384, 768, 1536 dimensions...) without editing our migrations.
pgvector can only index vectors of one fixed dimension, so each embedder gets an
expression index on ``(embedding::vector(N))`` restricted to its own rows::

    CREATE INDEX django_rag_chunk_hnsw_<hash> ON django_rag_chunk
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE embedder = 'hashing:v1-...:384'

Semantic queries filter on the same identity and order by the same cast expression,
so the planner can use the index. The indexes are created after ``migrate`` (see
``AUTO_CREATE_VECTOR_INDEXES``) or by ``manage.py rag_sync_indexes``.

pgvector's HNSW indexes hold at most 2,000 dimensions of ``vector`` and 4,000 of
``halfvec`` (half precision). An embedder of 2,001 to 4,000 dimensions (OpenAI's
``text-embedding-3-large`` makes 3,072) is therefore indexed on ``embedding::halfvec(N)``,
as is every embedder when ``VECTOR_INDEX_PRECISION`` is ``"half"`` (half the index's
memory, for a negligible change in ranking). The column itself keeps full precision.
Beyond 4,000 dimensions no HNSW index is possible: semantic searches scan the
embedder's rows exactly, and check ``django_rag.W004`` says so.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from .conf import get_setting
from .embedders import BaseEmbedder, embedders

CHUNK_TABLE = "django_rag_chunk"

#: The most dimensions pgvector's HNSW index accepts for each type.
HNSW_MAX_DIMENSIONS = {"vector": 2000, "halfvec": 4000}
PRECISIONS = ("auto", "half")


def vector_type(embedder: BaseEmbedder) -> str:
    """``"vector"`` or ``"halfvec"``: the type ``embedder``'s vectors are indexed and searched as.

    Searches cast to the same type as the index so the planner can use it; an embedder
    too large for any HNSW index is searched in full precision.
    """
    dimensions = int(embedder.dimensions)
    precision = get_setting("VECTOR_INDEX_PRECISION")
    if precision not in PRECISIONS:
        raise ValueError(f'DJANGO_RAG["VECTOR_INDEX_PRECISION"] must be one of {", ".join(PRECISIONS)}, not {precision!r}.')
    if dimensions > HNSW_MAX_DIMENSIONS["halfvec"]:
        return "vector"
    if precision == "half" or dimensions > HNSW_MAX_DIMENSIONS["vector"]:
        return "halfvec"
    return "vector"


def can_be_indexed(embedder: BaseEmbedder) -> bool:
    return int(embedder.dimensions) <= HNSW_MAX_DIMENSIONS["halfvec"]


def index_name(embedder: BaseEmbedder) -> str:
    key = embedder.identity
    if vector_type(embedder) == "halfvec":
        # A different name for the half-precision index of the same embedder, so that
        # switching VECTOR_INDEX_PRECISION makes rag_sync_indexes build the new one.
        key += ":halfvec"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    return f"django_rag_chunk_hnsw_{digest}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def index_sql(embedder: BaseEmbedder) -> str:
    kind = vector_type(embedder)
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(embedder)} ON {CHUNK_TABLE} "
        f"USING hnsw ((embedding::{kind}({int(embedder.dimensions)})) {kind}_cosine_ops) "
        f"WITH (m = {int(get_setting('HNSW_M'))}, ef_construction = {int(get_setting('HNSW_EF_CONSTRUCTION'))}) "
        f"WHERE embedder = {_literal(embedder.identity)}"
    )


def index_exists(embedder: BaseEmbedder, using: str = DEFAULT_DB_ALIAS) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [CHUNK_TABLE, index_name(embedder)],
        )
        return cursor.fetchone() is not None


def ensure_index(embedder: BaseEmbedder, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Create ``embedder``'s HNSW index if it is missing; return True if it was created.

    An embedder with more dimensions than any HNSW index holds gets none (see W004).
    """
    if not can_be_indexed(embedder) or index_exists(embedder, using):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute(index_sql(embedder))
    return True


def ensure_all_indexes(using: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str | None, bool]]:
    """Ensure an index for every configured embedder: ``[(alias, index name, created)]``.

    The name is ``None`` for an embedder too large for any HNSW index.
    """
    results = []
    for alias in embedders:
        embedder = embedders[alias]
        name = index_name(embedder) if can_be_indexed(embedder) else None
        results.append((alias, name, ensure_index(embedder, using)))
    return results


def stale_indexes(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """django-rag HNSW indexes that no configured embedder uses any more.

    They are left by an embedder removed from the settings, a change of its options
    (which changes its identity) or of ``VECTOR_INDEX_PRECISION``; they cost memory and
    slow every write to the chunk table.
    """
    wanted = {index_name(embedders[alias]) for alias in embedders}
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s ORDER BY indexname",
            [CHUNK_TABLE, "django\\_rag\\_chunk\\_hnsw\\_%"],
        )
        return [name for (name,) in cursor.fetchall() if name not in wanted]


def drop_index(name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")


def create_indexes_after_migrate(
    sender: Any, *, using: str = DEFAULT_DB_ALIAS, plan: Any = None, **kwargs: Any
) -> None:
    if not get_setting("AUTO_CREATE_VECTOR_INDEXES"):
        return
    # Skip when the chunk table is not there (e.g. migrating django_rag backwards to zero).
    with connections[using].cursor() as cursor:
        if CHUNK_TABLE not in connections[using].introspection.table_names(cursor):
            return
    ensure_all_indexes(using)
