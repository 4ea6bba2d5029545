"""The upload disappears from storage between the save and the task."""

from __future__ import annotations

import pytest

from django_rag.models import Chunk, Document
from django_rag.tasks import run

from .conftest import POLICY


@pytest.mark.django_db
def test_a_task_whose_file_was_deleted_fails_the_document_once_and_returns(make_document, caplog):
    document = make_document(POLICY, name="policy.md")
    document.file.storage.delete(document.file.name)

    # What a worker executes: it returns normally (no exception for the queue to retry
    # in a loop) with the document failed and saying why.
    assert run("django_rag.tasks.ingest_document", [document.pk], {}) == "failed"
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error == f"The file 'policy.md' is no longer in storage ({document.file.name}); upload it again."
    assert (document.lease_owner, document.lease_expires_at) == ("", None)
    assert not Chunk.objects.filter(document=document).exists()
    assert not Document.objects.stuck().exists()
    # Running it again (a queue's retry) changes nothing and raises nothing.
    assert run("django_rag.tasks.ingest_document", [document.pk], {}) == "failed"
    assert [r.levelname for r in caplog.records if "no longer in storage" in r.getMessage()] == ["WARNING"] * 2
