"""Two workers, one document; readers while a document is being replaced.

These tests use real extra PostgreSQL sessions (a raw psycopg connection made from
Django's own settings, and ingestion in a thread with its own Django connection):
advisory locks, row visibility and lock waits only mean something across sessions.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.exceptions import DocumentBusy
from django_rag.ingestion.pipeline import advisory_lock_key
from django_rag.models import Chunk, Document

from .conftest import chunk_rows, searchable

OLD = "Employees get twenty days of paid parental leave.\n\nThe leave is paid in full by the company."
NEW = "\n\n".join(f"Expense rule {i}: receipts within thirty days." for i in range(8))


@contextmanager
def other_session():
    """A second session on the test database, outside Django's connection handling."""
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    # A lock that is never granted should fail the test, not hang the run.
    raw.execute("SET lock_timeout = '10s'")
    try:
        yield raw
    finally:
        raw.close()


def document_row(document):
    return Document.objects.filter(pk=document.pk).values().get()


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.django_db
def test_locked_document_is_busy_and_untouched(make_document, replace_file, testing_embedder):
    embedder = testing_embedder()
    document = make_document(OLD, name="policy.txt")
    django_rag.ingest(document)
    replace_file(document, NEW.encode())  # there is work to do, were the lock free
    before_row, before_chunks = document_row(document), chunk_rows(document)
    embedder.reset()

    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(document.pk))
        with CaptureQueriesContext(connection) as queries:
            result = django_rag.ingest(document)
        assert result.status == "busy" and result.error_code == "busy" and not result.ok
        with pytest.raises(DocumentBusy):
            django_rag.ingest(document, raise_errors=True)
        # Only the lock attempts: nothing read, written or embedded.
        assert [q["sql"].split("(")[0] for q in queries.captured_queries] == ["SELECT pg_try_advisory_lock"]
        assert embedder.calls == []
        assert document_row(document) == before_row
        assert chunk_rows(document) == before_chunks
        other.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", advisory_lock_key(document.pk))

    assert django_rag.ingest(document).status == "ingested"


@pytest.mark.django_db
def test_a_long_ingestion_does_not_stall_other_documents(make_document):
    other = make_document(NEW, name="other.txt")
    with other_session() as worker:
        # Another worker is busy with document 1 (its embedder may take minutes). Its
        # lock must not be one that chunk writes of other documents wait for, such as
        # the BM25 statistics lock taken by the chunk table's triggers.
        worker.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(1))
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
        assert django_rag.ingest(other).status == "ingested"


@pytest.mark.django_db
def test_lock_is_released_after_a_failure(make_document, replace_file):
    document = make_document(OLD, name="policy.txt")
    replace_file(document, b"")
    assert django_rag.ingest(document).status == "failed"
    with other_session() as other:
        # A leaked session lock would make every later ingest of this document "busy".
        row = other.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(document.pk)).fetchone()
        assert row == (True,)


@pytest.mark.django_db(transaction=True)
def test_readers_see_the_old_chunks_until_the_new_set_commits(make_document, replace_file, testing_embedder, rag_settings):
    rag_settings(CHUNK_SIZE=60, CHUNK_OVERLAP=0, EMBED_BATCH_SIZE=3)
    testing_embedder()
    document = make_document(OLD, name="policy.txt")
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)
    assert len(before) == 2

    # A slow embedder keeps the ingestion in flight long enough to look at it.
    embedder = testing_embedder(delay=0.15)
    replace_file(document, NEW.encode())
    results = []

    def worker():
        try:
            results.append(django_rag.ingest(document.pk))
        finally:
            connections.close_all()

    with other_session() as blocker:
        # An uncommitted row holding the last new index makes the COPY wait on the
        # unique (document, index) constraint: the swap is frozen after its DELETE and
        # first rows, the moment a reader would see a half-written set were the swap
        # not one transaction. The foreign key is deferred, so this row does not lock
        # the document row. Triggers are off in this session only so that the BM25
        # statistics trigger's lock (migration 0002) does not stop the swap earlier,
        # at its DELETE, where even a non-atomic swap would still look whole.
        try:
            blocker.execute("SET session_replication_role = replica")
        except Exception as exc:  # a non-superuser DATABASE_URL
            pytest.skip(f"needs a role that may set session_replication_role: {exc}")
        blocker.autocommit = False
        blocker.execute(
            "INSERT INTO django_rag_chunk (document_id, index, content, metadata, embedding, embedder, language) "
            "VALUES (%s, 7, 'blocker', '{}', '[1,0]', 'blocker', 'english')",
            [document.pk],
        )
        blocker_pid = blocker.info.backend_pid
        thread = threading.Thread(target=worker)
        thread.start()
        try:
            wait_for(lambda: document_row(document)["status"] == "processing", "ingestion to start")
            # While embedding: the old chunks are served, and a second worker backs off.
            assert chunk_rows(document) == before
            assert searchable(document, "parental leave")
            assert django_rag.ingest(document.pk).status == "busy"

            def waiting_queries():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [blocker_pid]
                    )
                    return [row[0] for row in cursor.fetchall()]

            wait_for(waiting_queries, "the swap to wait on the blocker")
            assert waiting_queries()[0].startswith("COPY django_rag_chunk")
            assert len(embedder.calls) == 3  # embedding is over; only the swap is pending
            # Mid-swap, another session still sees exactly the old set.
            assert chunk_rows(document) == before
            assert Chunk.objects.filter(document_id=document.pk).count() == 2
            assert document_row(document)["status"] == "processing"
        finally:
            blocker.rollback()
            thread.join(timeout=30)

    assert not thread.is_alive()
    assert [r.status for r in results] == ["ingested"]
    after = chunk_rows(document)
    assert [row[2] for row in after] == NEW.split("\n\n")
    assert {row[0] for row in after}.isdisjoint(row[0] for row in before)
    assert document_row(document)["status"] == "ready"
    assert searchable(document, "expense receipts")
