"""Reads on a real streaming replica (``DJANGO_RAG["READ_DATABASE"]``), writes on the primary."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.models import Document, QueryLog

from .conftest import REPLICA_ALIAS, wait_for_replay

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases=["default", REPLICA_ALIAS])]


def ingest(collection, title: str, text: str) -> Document:
    document = Document.objects.create(collection=collection, title=title, text=text)
    assert django_rag.ingest(document).status == "ingested"
    return document


def in_recovery(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return cursor.fetchone()[0]


def test_searches_and_answers_read_on_the_standby_and_write_on_the_primary(replica, rag_settings, collection):
    rag_settings(READ_DATABASE=replica)
    document = ingest(collection, "Coolant", "The night technician replaces the coolant every 47 days.")
    wait_for_replay()

    with CaptureQueriesContext(connections[replica]) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        results = django_rag.search("coolant technician", k=3)
    assert [chunk.document_id for chunk in results][:1] == [document.pk]
    assert in_recovery(replica) and not in_recovery("default")
    assert any("django_rag_chunk" in q["sql"] for q in on_replica.captured_queries)
    assert not on_primary.captured_queries, "a search reads nothing from the primary"

    # ask() retrieves on the standby; its QueryLog row can only have been written on the
    # primary (a hot standby refuses every write).
    with CaptureQueriesContext(connections[replica]) as on_replica:
        answer = django_rag.ask("Who replaces the coolant?")
    assert [source.document.pk for source in answer.sources][:1] == [document.pk]
    assert any("django_rag_chunk" in q["sql"] for q in on_replica.captured_queries)
    assert QueryLog.objects.using("default").filter(question="Who replaces the coolant?").count() == 1


def test_a_chunk_written_on_the_primary_becomes_searchable_on_the_standby(replica, rag_settings, collection):
    rag_settings(READ_DATABASE=replica)
    with connections[replica].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")  # lag, held still for the test
    try:
        document = ingest(collection, "Badges", "Visitor badges are collected at the north gate.")
        assert django_rag.search("visitor badges north gate", k=3) == [], "the paused standby has not seen it"
        # Read-your-writes: the request that ingested reads from the primary.
        with django_rag.read_from_primary():
            assert [c.document_id for c in django_rag.search("visitor badges north gate", k=3)][:1] == [document.pk]
            assert [s.document.pk for s in django_rag.ask("Where are visitor badges collected?").sources][:1] == [document.pk]
        # An explicit QuerySet database wins too.
        from django_rag.models import Chunk

        chunks = Chunk.objects.using("default").keyword("visitor badges")
        assert [c.document_id for c in django_rag.search("visitor badges", k=3, queryset=chunks)][:1] == [document.pk]
    finally:
        with connections[replica].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
    wait_for_replay()
    assert [c.document_id for c in django_rag.search("visitor badges north gate", k=3)][:1] == [document.pk]


def test_django_database_routers_choose_the_read_database_when_the_setting_is_unset(replica, settings, collection):
    document = ingest(collection, "Parking", "Staff parking is on level minus two.")
    wait_for_replay()
    settings.DATABASE_ROUTERS = ["tests.scaling.routers.ReadsOnReplica"]
    with CaptureQueriesContext(connections[replica]) as on_replica:
        results = django_rag.search("staff parking level", k=3)
    assert [c.document_id for c in results][:1] == [document.pk]
    assert any("django_rag_chunk" in q["sql"] for q in on_replica.captured_queries)


def test_an_unknown_read_database_is_a_system_check_error(rag_settings):
    from django.core.checks import run_checks

    rag_settings(READ_DATABASE="nowhere")
    assert "django_rag.E090" in {message.id for message in run_checks()}
