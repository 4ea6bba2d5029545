"""A filter that keeps 1% of rows still yields k results, and the indexes are used."""

from __future__ import annotations

import random

import pytest
from django.db import DatabaseError, connection

from django_rag.embedders import get_embedder
from django_rag.ingestion.writer import copy_rows
from django_rag.models import Chunk, Collection, Document
from django_rag.vector_indexes import index_name

WORDS = "policy leave travel expense laptop security office budget team holiday contract salary".split()


@pytest.fixture
def big_table(db):
    """3,000 chunks, 30 of them (1%) in the 'rare' collection, written with COPY."""
    embedder = get_embedder()
    common = Collection.objects.create(name="Common", slug="common")
    rare = Collection.objects.create(name="Rare", slug="rare")
    rng = random.Random(7)
    rows = []
    for n in range(100):
        document = Document.objects.create(collection=rare if n < 1 else common, title=f"d{n}")
        texts = [" ".join(rng.choices(WORDS, k=30)) for _ in range(30)]
        for index, (text, vector) in enumerate(zip(texts, embedder.embed_documents(texts))):
            rows.append((document.pk, index, text, {}, vector, embedder.identity, "english"))
    copy_rows(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_rag_chunk; ANALYZE django_rag_posting")
    return rare


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["semantic", "keyword", "hybrid"])
def test_one_percent_filter_returns_k_results(big_table, method):
    queryset = Chunk.objects.filter(document__collection=big_table)
    assert queryset.count() == 30
    results = list(getattr(queryset, method)("leave policy for the team", candidates=10)[:10])
    assert len(results) == 10
    assert {c.document.collection_id for c in results} == {big_table.pk}


def plans_with_nested_statements(queryset) -> str:
    """EXPLAIN of ``queryset`` plus the plans of the statements that functions in it run.

    The unfiltered keyword leg runs inside the PL/pgSQL function django_rag_bm25_search,
    whose plan EXPLAIN does not show. PostgreSQL's auto_explain module logs it; with
    client_min_messages at LOG the log lines reach this connection as notices.
    """
    notices: list[str] = []
    raw = connection.connection
    def handler(diagnostic) -> None:
        notices.append(diagnostic.message_primary or "")

    raw.add_notice_handler(handler)
    try:
        with connection.cursor() as cursor:
            try:
                cursor.execute("LOAD 'auto_explain'")
            except DatabaseError as exc:
                pytest.skip(f"auto_explain is not available on this server: {exc}")
            cursor.execute(
                "SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_nested_statements = on;"
                " SET LOCAL client_min_messages = log"
            )
        list(queryset)
    finally:
        raw.remove_notice_handler(handler)
    return queryset.explain() + "\n" + "\n".join(notices)


@pytest.mark.django_db
def test_hybrid_statement_uses_hnsw_and_postings_indexes(big_table):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = plans_with_nested_statements(Chunk.objects.hybrid("leave policy for the team")[:10])
    assert f"Index Scan using {index_name(get_embedder())}" in plan
    assert "Function Scan on django_rag_bm25_search" in plan
    assert "Index Only Scan using django_rag_posting_impact" in plan or "Index Scan using django_rag_posting_impact" in plan
