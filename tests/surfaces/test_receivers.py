"""The upload receivers (ingest on save, clean up on delete) and django-rag's own signals."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import transaction

import django_rag
from django_rag.models import Chunk, Document
from django_rag.receivers import auto_ingest_paused
from django_rag.signals import answer_generated, document_ingested, ingestion_failed

pytestmark = pytest.mark.django_db


def test_a_new_document_is_ingested_after_the_commit(on_save, collection, django_capture_on_commit_callbacks):
    on_save("sync")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        document = Document.objects.create(collection=collection, title="Leave", text="Parental leave is twenty days.")
        document.refresh_from_db()
        assert document.status == Document.Status.PENDING  # nothing ran before the commit
    assert len(callbacks) == 1
    document.refresh_from_db()
    assert document.status == Document.Status.READY and Chunk.objects.filter(document=document).exists()


def test_an_uploaded_file_is_ingested(on_save, collection, django_capture_on_commit_callbacks):
    on_save("sync")
    document = Document(collection=collection, title="Notes")
    document.file.save("notes.md", ContentFile(b"# Notes\n\nThe office opens at nine."), save=False)
    with django_capture_on_commit_callbacks(execute=True):
        document.save()
    assert Chunk.objects.filter(document=document, content__contains="nine").exists()


def test_only_a_changed_source_enqueues(on_save, collection, django_capture_on_commit_callbacks):
    on_save("sync")
    with django_capture_on_commit_callbacks(execute=True):
        document = Document.objects.create(collection=collection, title="Leave", text="Parental leave is twenty days.")
    document = Document.objects.get(pk=document.pk)  # as loaded by a later request
    with django_capture_on_commit_callbacks() as callbacks:
        document.source_url = "https://intranet.example/leave"
        document.save()
        document.save(update_fields=["metadata"])
    assert callbacks == []
    for change in ({"text": "Parental leave is thirty days."}, {"title": "Parental leave"}, {"language": "simple"}):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            for name, value in change.items():
                setattr(document, name, value)
            document.save()
        assert len(callbacks) == 1, change
    assert Chunk.objects.filter(document=document, content__contains="thirty").exists()
    # A document loaded with deferred fields is not taken for a changed one.
    partial = Document.objects.only("pk", "status").get(pk=document.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        partial.status = Document.Status.READY
        partial.save(update_fields=["status"])
    assert callbacks == []


def test_nothing_is_enqueued_when_off_paused_or_empty(on_save, rag_settings, collection, django_capture_on_commit_callbacks):
    on_save("sync")
    with django_capture_on_commit_callbacks() as callbacks:
        Document.objects.create(collection=collection, title="No content yet")
        with auto_ingest_paused():
            Document.objects.create(collection=collection, text="Saved by code that ingests it itself.")
        rag_settings(INGEST_ON_SAVE=False)
        Document.objects.create(collection=collection, text="Ingestion on save is off.")
    assert callbacks == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_save_enqueues_nothing(on_save, waiting_tasks):
    """Real commits and a real rollback, with django-q2's ORM broker as the queue."""
    on_save("django_q")
    with pytest.raises(RuntimeError), transaction.atomic():
        Document.objects.create(title="Rolled back", text="Never committed.")
        raise RuntimeError("the request failed")
    assert waiting_tasks() == [] and not Document.objects.exists()

    with transaction.atomic():
        document = Document.objects.create(title="Committed", text="Parental leave is twenty days.")
        assert waiting_tasks() == []  # not before the commit: a worker would not find the row
    assert waiting_tasks() == [("django_rag.tasks.ingest_document", [document.pk])]


def test_deleting_a_document_deletes_its_chunks_and_keeps_its_file_by_default(
    make_document, django_capture_on_commit_callbacks
):
    document = make_document("Parental leave is twenty days.", name="leave.txt")
    django_rag.ingest(document)
    storage, name = document.file.storage, document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        document.delete()
    assert not Chunk.objects.exists()
    assert storage.exists(name)


def test_delete_files_removes_the_file_after_the_commit_only(
    make_document, rag_settings, django_capture_on_commit_callbacks
):
    rag_settings(DELETE_FILES=True)
    kept = make_document("Kept.", name="kept.txt")
    with pytest.raises(RuntimeError), transaction.atomic():
        kept.delete()
        raise RuntimeError("rolled back")
    assert kept.file.storage.exists(kept.file.name)

    gone = make_document("Gone.", name="gone.txt")
    storage, name = gone.file.storage, gone.file.name
    with django_capture_on_commit_callbacks(execute=True):
        gone.delete()
        assert storage.exists(name)  # still there until the commit
    assert not storage.exists(name)


def test_document_ingested_and_ingestion_failed_carry_the_document_and_result(make_document):
    received = []

    def record(signal_name):
        def receiver(sender, document, result, **kwargs):
            received.append((signal_name, sender, document.pk, result.status))

        return receiver

    ok, failed = record("ingested"), record("failed")
    document_ingested.connect(ok, sender=Document)
    ingestion_failed.connect(failed, sender=Document)
    try:
        good = make_document("Parental leave is twenty days.")
        bad = make_document(b"%PDF-1.7 garbage", name="broken.pdf")
        django_rag.ingest(good)
        django_rag.ingest(good)  # unchanged: no signal
        django_rag.ingest(bad)
    finally:
        document_ingested.disconnect(ok, sender=Document)
        ingestion_failed.disconnect(failed, sender=Document)
    assert received == [("ingested", Document, good.pk, "ingested"), ("failed", Document, bad.pk, "failed")]


def test_answer_generated_carries_the_answer_and_the_user(make_document, django_user_model):
    from django_rag.generation.answers import Answer

    django_rag.ingest(make_document("Parental leave is twenty days."))
    user = django_user_model.objects.create_user("ann")
    received = []

    def receiver(sender, answer, user, **kwargs):
        received.append((sender, answer.text, user))

    answer_generated.connect(receiver, sender=Answer)
    try:
        answer = django_rag.ask("How long is parental leave?", user=user)
    finally:
        answer_generated.disconnect(receiver, sender=Answer)
    assert received == [(Answer, answer.text, user)]
