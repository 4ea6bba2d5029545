"""Write chunks in bulk with PostgreSQL ``COPY``.

``bulk_create`` builds one multi-row INSERT per batch and makes Python format every
value twice; ``COPY ... FROM STDIN`` streams rows straight into the table and is what
a hand-written loader would use. benchmarks/ingest.py compares ingestion with a raw
COPY of the same rows (results in benchmarks/RESULTS.md).

The COPY is in binary format. Measured on the 2-core benchmark machine with 384-dimension
vectors from the hashing embedder, against the text COPY this module used before:

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

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections

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
