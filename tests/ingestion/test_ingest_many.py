"""ingest_many(): the same outcome per document as ingest(), several documents per write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.ingestion.pipeline import advisory_lock_key
from django_rag.models import Chunk, Document

from .conftest import chunk_rows, searchable
from .test_concurrency import other_session
from .test_pipeline import FAIL_FUNCTION

TOPICS = ["parental leave", "travel expenses", "remote work", "security badges", "pension plans"]


def policy(topic: str) -> str:
    return f"# {topic.title()}\n\nThe {topic} policy applies to every employee.\n\n" + f"More about {topic}. " * 40


def stored(document: Document) -> list[tuple]:
    """What a document's chunks hold, without the row ids COPY assigns."""
    return list(
        Chunk.objects.filter(document_id=document.pk)
        .order_by("index")
        .values_list("index", "content", "context", "metadata", "embedder", "language", "embedding")
    )


def deletes(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("DELETE FROM \"DJANGO_RAG_CHUNK\""))


@pytest.fixture
def documents(make_document, rag_settings):
    rag_settings(CHUNK_SIZE=300, CHUNK_OVERLAP=0)
    return [make_document(policy(topic), name=f"{topic}.md") for topic in TOPICS]


@pytest.mark.django_db
def test_stores_what_ingest_stores_in_fewer_writes(documents, testing_embedder):
    testing_embedder()
    with CaptureQueriesContext(connection) as queries:
        results = django_rag.ingest_many(documents, batch_size=2)
    assert [r.status for r in results] == ["ingested"] * 5
    assert [r.document_id for r in results] == [d.pk for d in documents]
    # Batches of 2, 2 and 1 documents: one chunk swap each, not one per document.
    assert deletes(queries.captured_queries) == 3
    batched = {d.pk: stored(d) for d in documents}
    assert all(len(rows) >= 2 for rows in batched.values())

    for document in documents:
        assert django_rag.ingest(document, force=True).status == "ingested"
        assert stored(document) == batched[document.pk]
        document.refresh_from_db()
        assert document.status == Document.Status.READY
        assert document.chunk_count == len(batched[document.pk])
        assert document.ingest_signature and document.ingested_at
    assert searchable(documents[1], "travel expenses")


@pytest.mark.django_db
def test_the_callers_instances_carry_the_outcome(documents, testing_embedder):
    testing_embedder()
    django_rag.ingest_many(documents)
    for document in documents:
        assert document.status == Document.Status.READY and document.chunk_count >= 2
        document.save()  # a stale instance would write back "pending" and no signature
    assert set(Document.objects.values_list("status", flat=True)) == {Document.Status.READY}
    assert [r.status for r in django_rag.ingest_many(documents)] == ["unchanged"] * 5


@pytest.mark.django_db
def test_unchanged_documents_cost_no_embedding(documents, testing_embedder):
    embedder = testing_embedder()
    django_rag.ingest_many(documents[:3])
    calls = len(embedder.calls)
    results = django_rag.ingest_many(documents)
    assert [r.status for r in results] == ["unchanged"] * 3 + ["ingested"] * 2
    assert sum(len(batch) for batch in embedder.calls[calls:]) == sum(r.chunks for r in results[3:])


@pytest.mark.django_db
def test_bad_input_fails_that_document_alone(documents, make_document, testing_embedder, replace_file):
    testing_embedder()
    django_rag.ingest_many(documents)
    broken = documents[2]
    before = chunk_rows(broken)
    replace_file(broken, b"%PDF-1.7 this is not really a PDF", name="broken.pdf")
    unknown_language = make_document(policy("canteen menus"), name="menus.md", language="klingon")
    seen = []
    results = django_rag.ingest_many([*documents, unknown_language], force=True, on_result=seen.append)
    assert seen == results
    status = {r.document_id: r for r in results}
    assert status[broken.pk].status == "failed" and status[broken.pk].error_code
    assert status[unknown_language.pk].status == "failed" and "klingon" in status[unknown_language.pk].error
    assert [status[d.pk].status for d in documents if d is not broken] == ["ingested"] * 4
    assert chunk_rows(broken) == before
    broken.refresh_from_db()
    assert broken.status == Document.Status.FAILED and broken.error


@pytest.mark.django_db(transaction=True)
def test_a_document_held_by_another_worker_is_busy(documents, testing_embedder):
    testing_embedder()
    held = documents[0]
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(held.pk))
        results = django_rag.ingest_many(documents)
    assert {r.document_id: r.status for r in results} == {
        d.pk: ("busy" if d is held else "ingested") for d in documents
    }
    assert not Chunk.objects.filter(document_id=held.pk).exists()
    # Every lock this call took is released: another session can take them all.
    with other_session() as other:
        for document in documents:
            assert other.execute(
                "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(document.pk)
            ).fetchone()[0]


@pytest.mark.django_db
def test_a_refused_batch_is_written_one_document_at_a_time(documents, testing_embedder, replace_file):
    testing_embedder()
    django_rag.ingest_many(documents)
    victim = documents[3]
    before = chunk_rows(victim)
    for document in documents:
        replace_file(document, policy("new rules for " + document.title).encode())
    with connection.cursor() as cursor:
        cursor.execute(FAIL_FUNCTION)
        cursor.execute(
            "CREATE TRIGGER rag_fail AFTER INSERT ON django_rag_chunk FOR EACH ROW "
            f"WHEN (NEW.document_id = {int(victim.pk)}) EXECUTE FUNCTION pg_temp.rag_fail()"
        )
    results = {r.document_id: r for r in django_rag.ingest_many(documents)}
    assert results[victim.pk].status == "failed" and "injected fault" in results[victim.pk].error
    assert chunk_rows(victim) == before
    for document in documents:
        if document is not victim:
            assert results[document.pk].status == "ingested"
            assert Chunk.objects.filter(document_id=document.pk, content__contains="new rules").exists()


@pytest.mark.django_db
def test_chunk_budget_splits_a_batch(documents, testing_embedder, rag_settings):
    testing_embedder()
    rag_settings(INGEST_BATCH_CHUNKS=1)
    with CaptureQueriesContext(connection) as queries:
        results = django_rag.ingest_many(documents, batch_size=10)
    assert [r.status for r in results] == ["ingested"] * 5
    assert deletes(queries.captured_queries) == 5


@pytest.mark.django_db
def test_missing_documents_and_bad_batch_size(documents):
    results = {r.document_id: r for r in django_rag.ingest_many([documents[0].pk, 10**12])}
    assert results[documents[0].pk].status == "ingested"
    assert results[10**12].status == "failed" and results[10**12].error_code == "missing"
    with pytest.raises(ValueError):
        django_rag.ingest_many(documents, batch_size=0)
