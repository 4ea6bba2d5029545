"""EXPLAIN proves that searches use the HNSW and GIN indexes."""

from __future__ import annotations

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection

import django_rag
from django_rag.embedders import get_embedder
from django_rag.models import Chunk
from django_rag.vector_indexes import index_name


@pytest.fixture
def many_chunks(make_document):
    for n in range(30):
        django_rag.ingest(make_document(f"Document {n} about leave policy and item {n}. " * 30, name=f"d{n}.txt"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_rag_chunk")


def plan(queryset) -> str:
    # Sequential scans are cheap on tiny tables; forbid them so EXPLAIN shows whether an
    # index *can* serve the query at all.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.django_db
def test_semantic_search_uses_the_embedders_partial_hnsw_index(many_chunks):
    text = plan(Chunk.objects.semantic("leave policy")[:5])
    assert f"Index Scan using {index_name(get_embedder())}" in text


@pytest.mark.django_db
def test_full_text_match_uses_the_gin_index(many_chunks):
    text = plan(Chunk.objects.filter(search_vector=SearchQuery("leave", config="english")).order_by().values("pk"))
    assert "django_rag_chunk_fts" in text


@pytest.mark.django_db
def test_vectors_of_several_dimensions_live_in_one_table(make_document, rag_settings):
    small = make_document("First embedder text about leave.", name="a.txt")
    django_rag.ingest(small)
    rag_settings(
        EMBEDDERS={
            "default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 200}}
        }
    )
    big = make_document("Second embedder text about leave.", name="b.txt")
    django_rag.ingest(big)
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT vector_dims(embedding) FROM django_rag_chunk ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == [64, 200]
    # Each embedder only ever sees its own vectors.
    assert [c.document_id for c in Chunk.objects.semantic("leave")[:10]] == [big.pk]
