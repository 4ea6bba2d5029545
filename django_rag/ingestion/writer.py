"""Write chunks in bulk with PostgreSQL ``COPY``.

``bulk_create`` builds one multi-row INSERT per batch and makes Python format every
value twice; ``COPY ... FROM STDIN`` streams rows straight into the table and is what
a hand-written loader would use, so ingestion keeps pace with a raw load (see
benchmarks/ingest.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections
from psycopg.types.json import Jsonb

CHUNK_COLUMNS = ("document_id", "index", "content", "metadata", "embedding", "embedder", "language")
COPY_SQL = f"COPY django_rag_chunk ({', '.join(CHUNK_COLUMNS)}) FROM STDIN"


def vector_literal(vector: Sequence[float]) -> str:
    # repr() of a float is the shortest text that round-trips; pgvector stores float4.
    return "[" + ",".join(map(repr, vector)) + "]"


def copy_rows(rows: Iterable[tuple[Any, ...]], *, using: str = "default") -> int:
    """COPY rows shaped like :data:`CHUNK_COLUMNS` (vector as a list of floats or text)."""
    count = 0
    with connections[using].cursor() as cursor:
        with cursor.cursor.copy(COPY_SQL) as copy:
            for document_id, index, content, metadata, embedding, embedder, language in rows:
                if not isinstance(embedding, str):
                    embedding = vector_literal(embedding)
                copy.write_row((document_id, index, content, Jsonb(metadata), embedding, embedder, language))
                count += 1
    return count
