from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_rag.exceptions import RAGImproperlyConfigured
from django_rag.models import Chunk, Document
from django_rag.tasks import enqueue, queue_name
from tests.ingestion.test_concurrency import other_session


def test_sync_queue_runs_the_task_inline(rag_settings):
    rag_settings(QUEUE="sync")
    assert enqueue("os.path.join", "a", "b") == "a/b"


def test_auto_picks_django_q_when_it_is_installed_and_configured(rag_settings, settings):
    rag_settings(QUEUE="auto")
    assert queue_name() == "django_q"  # tests/settings.py installs django_q with Q_CLUSTER
    del settings.Q_CLUSTER
    assert queue_name() == "sync"


def test_a_wrong_queue_is_a_clear_configuration_error(rag_settings, settings):
    rag_settings(QUEUE="celery")
    with pytest.raises(RAGImproperlyConfigured, match='QUEUE.*celery'):
        enqueue("os.path.join", "a")
    with pytest.raises(SystemCheckError, match="django_rag.E030"):
        call_command("check")
    rag_settings(QUEUE="django_q")
    del settings.Q_CLUSTER
    with pytest.raises(RAGImproperlyConfigured, match="Q_CLUSTER"):
        enqueue("os.path.join", "a")
    with pytest.raises(SystemCheckError, match="django-q2 is not set up"):
        call_command("check")


def test_an_unknown_task_fails_in_the_caller(rag_settings):
    rag_settings(QUEUE="django_q")
    with pytest.raises(ImportError):
        enqueue("django_rag.tasks.no_such_task", 1)


@pytest.mark.django_db
def test_django_q_carries_arguments_that_share_names_with_its_options(rag_settings, waiting_tasks):
    rag_settings(QUEUE="django_q")
    # "timeout" and "group" are django-q2 option names: they must reach the task intact.
    enqueue("django_rag.tasks.ingest_document", 7, force=True, embedder="default")
    enqueue("os.path.join", "a", timeout="b", group="c")
    assert waiting_tasks() == [
        ("django_rag.tasks.ingest_document", [7]),
        ("os.path.join", ["a"]),
    ]
    from django_q.models import OrmQ

    packages = [row.task for row in OrmQ.objects.order_by("id")]
    assert packages[0]["args"][2] == {"force": True, "embedder": "default"}
    assert packages[1]["args"][2] == {"timeout": "b", "group": "c"}
    assert "timeout" not in packages[1]  # not taken as django-q2's own option


@pytest.fixture
def locked_document(make_document):
    """A document whose advisory lock another session holds, as a running ingestion would."""
    from django_rag.ingestion.pipeline import advisory_lock_key

    document = make_document("Parental leave is twenty days.")
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", advisory_lock_key(document.pk))
        yield document, other


@pytest.mark.django_db
def test_ingest_document_task_waits_for_a_busy_document(locked_document, rag_settings):
    import threading

    from django_rag.tasks import ingest_document

    rag_settings(BUSY_WAIT_SECONDS=10)
    document, other = locked_document
    timer = threading.Timer(0.5, lambda: other.execute("SELECT pg_advisory_unlock_all()"))
    timer.start()
    try:
        assert ingest_document(document.pk) == "ingested"
    finally:
        timer.join()
    assert Chunk.objects.filter(document=document).exists()


@pytest.mark.django_db
def test_ingest_document_task_gives_up_after_busy_wait_seconds(locked_document, rag_settings):
    from django_rag.tasks import ingest_document, remove_chunks

    rag_settings(BUSY_WAIT_SECONDS=0)
    document, _ = locked_document
    assert ingest_document(document.pk) == "busy"
    assert remove_chunks(document.pk) == "busy"
    assert not Chunk.objects.exists()
    assert ingest_document(12345678) == "deleted"


@pytest.mark.django_db
def test_remove_chunks_task_empties_the_document_and_a_new_ingest_re_embeds(make_document):
    import django_rag
    from django_rag.tasks import remove_chunks

    document = make_document("Parental leave is twenty days.")
    django_rag.ingest(document)
    assert remove_chunks(document.pk) == "removed"
    document.refresh_from_db()
    assert not Chunk.objects.filter(document=document).exists()
    assert (document.status, document.chunk_count, document.ingest_signature) == (Document.Status.PENDING, 0, "")
    assert django_rag.ingest(document).status == "ingested"  # not "unchanged": the signature was cleared
