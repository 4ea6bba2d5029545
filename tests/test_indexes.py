"""EXPLAIN proves that searches use the HNSW and GIN indexes."""

from __future__ import annotations

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection

import django_rag
from django_rag.embedders import get_embedder
from django_rag.models import Chunk
from django_rag.vector_indexes import ensure_index, index_name, stale_indexes, vector_type


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


def _ingest_leave_documents(make_document, count: int = 30) -> None:
    for n in range(count):
        django_rag.ingest(make_document(f"Document {n} about leave policy and item {n}. " * 30, name=f"d{n}.txt"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_rag_chunk")


def _index_definition(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else ""


@pytest.mark.django_db
def test_an_embedder_of_more_than_2000_dimensions_is_indexed_and_searched_as_halfvec(make_document, rag_settings):
    # OpenAI's text-embedding-3-large makes 3,072 dimensions: more than a `vector` HNSW
    # index holds (2,000), within what a `halfvec` one does (4,000).
    rag_settings(EMBEDDERS={"default": {"BACKEND": "django_rag.embedders.hashing.Embedder",
                                        "OPTIONS": {"dimensions": 3072}}})
    embedder = get_embedder()
    assert vector_type(embedder) == "halfvec"
    assert ensure_index(embedder) is True
    assert "halfvec(3072)) halfvec_cosine_ops" in _index_definition(index_name(embedder))
    _ingest_leave_documents(make_document)
    text = plan(Chunk.objects.semantic("leave policy item 7")[:5])
    assert f"Index Scan using {index_name(embedder)}" in text
    # The column keeps full precision; only the index and the ordering use halfvec.
    best = Chunk.objects.semantic("leave policy and item 7")[:1].get()
    assert "item 7." in best.content
    assert len(best.embedding) == 3072


@pytest.mark.django_db
def test_half_precision_can_be_chosen_for_every_embedder(make_document, rag_settings):
    full_name = index_name(get_embedder())
    rag_settings(VECTOR_INDEX_PRECISION="half")
    embedder = get_embedder()
    half_name = index_name(embedder)
    assert half_name != full_name  # a new index, built by rag_sync_indexes
    assert ensure_index(embedder) is True
    assert f"halfvec({embedder.dimensions})) halfvec_cosine_ops" in _index_definition(half_name)
    _ingest_leave_documents(make_document)
    assert f"Index Scan using {half_name}" in plan(Chunk.objects.semantic("leave policy")[:5])
    # The full-precision index of the same embedder is now stale.
    assert full_name in stale_indexes()


@pytest.mark.django_db
def test_an_embedder_too_large_for_any_hnsw_index_gets_none_and_still_searches(make_document, rag_settings):
    rag_settings(EMBEDDERS={"default": {"BACKEND": "django_rag.embedders.hashing.Embedder",
                                        "OPTIONS": {"dimensions": 4096}}})
    embedder = get_embedder()
    assert ensure_index(embedder) is False  # no error: there is no index to build
    assert _index_definition(index_name(embedder)) == ""
    _ingest_leave_documents(make_document, count=5)
    best = Chunk.objects.semantic("leave policy and item 3")[:1].get()
    assert "item 3." in best.content
