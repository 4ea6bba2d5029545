"""The database connection is cut while a document's chunks are being written."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

import django_rag
from django_rag.models import Chunk, Document
from tests.ingestion.conftest import chunk_rows, searchable
from tests.ingestion.test_concurrency import other_session

from .conftest import POLICY, assert_one_copy, wait_for

# Triggers that hold a write for a while, so the test can cut the writer's connection
# in the middle of it, deterministically: every COPY into the chunk table, and (to cut
# the connection a second time, as a database that stays down would) the update that
# records a document's failure.
SLOW_WRITES = """
CREATE FUNCTION test_slow_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(10); RETURN NULL; END $$;
CREATE TRIGGER test_slow_chunk_write BEFORE INSERT ON django_rag_chunk
    FOR EACH STATEMENT EXECUTE FUNCTION test_slow_write();
"""
SLOW_FAILURE_RECORD = """
CREATE TRIGGER test_slow_failure_record BEFORE UPDATE ON django_rag_document
    FOR EACH ROW WHEN (NEW.status = 'failed') EXECUTE FUNCTION test_slow_write();
"""
FAST_WRITES = (
    "DROP TRIGGER IF EXISTS test_slow_chunk_write ON django_rag_chunk;"
    " DROP TRIGGER IF EXISTS test_slow_failure_record ON django_rag_document;"
    " DROP FUNCTION IF EXISTS test_slow_write();"
)


def cut(other, statement_prefix: str) -> None:
    """Terminate the session running a statement that starts with ``statement_prefix``."""

    def pid():
        row = other.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
            " AND query LIKE %s", [statement_prefix + "%"],
        ).fetchone()
        return row and row[0]

    other.execute("SELECT pg_terminate_backend(%s)", [wait_for(pid, f"{statement_prefix!r} to run", timeout=15)])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("database_stays_down", [False, True], ids=["reconnects", "stays-down"])
def test_a_connection_killed_mid_write_leaves_no_partial_chunks_and_nothing_processing_for_ever(
    make_document, rag_settings, database_stays_down
):
    rag_settings(INGEST_LEASE_SECONDS=1)
    document = make_document(POLICY, name="policy.md")
    django_rag.ingest(document)
    before = chunk_rows(document)
    document.file.save("policy.md", ContentFile(POLICY.replace("receipts", "invoices").encode()), save=False)
    document.save(update_fields=["file"])

    errors: list[BaseException] = []

    def worker():
        try:
            django_rag.ingest(document.pk)
        except BaseException as exc:  # noqa: BLE001 - the point: what the worker sees
            errors.append(exc)
        finally:
            connections.close_all()

    with other_session() as other:
        other.execute(SLOW_WRITES + (SLOW_FAILURE_RECORD if database_stays_down else ""))
        try:
            thread = threading.Thread(target=worker)
            thread.start()
            cut(other, "COPY django_rag_chunk")
            if database_stays_down:
                cut(other, 'UPDATE "django_rag_document"')
            thread.join(timeout=15)
        finally:
            other.execute(FAST_WRITES)
    assert not thread.is_alive()

    # The worker saw a database error, not a hang; the rolled-back transaction took its
    # DELETE with it: the previous version is whole and searchable.
    assert errors and "terminat" in str(errors[0]).lower()
    assert chunk_rows(document) == before
    assert searchable(document, "receipts kept")
    document.refresh_from_db()
    if not database_stays_down:
        # Django opened a new connection for the failure record: failed, saying why.
        assert document.status == Document.Status.FAILED and (document.lease_owner, document.lease_expires_at) == ("", None)
        assert document.error.startswith("Unexpected error: OperationalError") and "terminat" in document.error
        call_command("rag_reindex", "--failed-only", "--sync")
    else:
        # Nothing could be recorded: the lease tells the story once it expires.
        assert document.status == Document.Status.PROCESSING and document.lease_owner
        assert document.lease_expires_at <= timezone.now() + timedelta(seconds=1)
        wait_for(lambda: Document.objects.stuck().filter(pk=document.pk).exists(), "the lease to expire", timeout=5)
        call_command("rag_ingest", "--stale", "--sync")
    document.refresh_from_db()
    assert (document.status, document.lease_owner, document.lease_expires_at) == ("ready", "", None)
    assert Chunk.objects.filter(document=document, content__contains="invoices").exists()
    assert_one_copy(document)
