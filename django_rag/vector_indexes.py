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
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from .conf import get_setting
from .embedders import BaseEmbedder, embedders

CHUNK_TABLE = "django_rag_chunk"


def index_name(embedder: BaseEmbedder) -> str:
    digest = hashlib.sha1(embedder.identity.encode("utf-8")).hexdigest()[:16]
    return f"django_rag_chunk_hnsw_{digest}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def index_sql(embedder: BaseEmbedder) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(embedder)} ON {CHUNK_TABLE} "
        f"USING hnsw ((embedding::vector({int(embedder.dimensions)})) vector_cosine_ops) "
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
    """Create ``embedder``'s HNSW index if it is missing; return True if it was created."""
    if index_exists(embedder, using):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute(index_sql(embedder))
    return True


def ensure_all_indexes(using: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str, bool]]:
    """Ensure an index for every configured embedder: ``[(alias, index name, created)]``."""
    results = []
    for alias in embedders:
        embedder = embedders[alias]
        results.append((alias, index_name(embedder), ensure_index(embedder, using)))
    return results


def create_indexes_after_migrate(sender: Any, *, using: str = DEFAULT_DB_ALIAS, plan=None, **kwargs: Any) -> None:
    if not get_setting("AUTO_CREATE_VECTOR_INDEXES"):
        return
    # Skip when the chunk table is not there (e.g. migrating django_rag backwards to zero).
    with connections[using].cursor() as cursor:
        if CHUNK_TABLE not in connections[using].introspection.table_names(cursor):
            return
    ensure_all_indexes(using)
