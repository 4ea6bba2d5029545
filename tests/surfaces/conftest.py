from __future__ import annotations

import pytest

from django.contrib.auth.models import Group

from django_rag.models import Chunk, Collection, Document, Visibility


@pytest.fixture
def on_save(rag_settings):
    """Ingestion on save, on the given queue (the suite's settings turn it off)."""

    def apply(queue: str = "sync"):
        return rag_settings(INGEST_ON_SAVE=True, QUEUE=queue)

    return apply


@pytest.fixture
def waiting_tasks():
    """The task paths waiting in django-q2's ORM broker, oldest first."""

    def read() -> list[tuple[str, list]]:
        from django_q.models import OrmQ

        return [(task["args"][0], task["args"][1]) for task in (row.task for row in OrmQ.objects.order_by("id"))]

    return read


@pytest.fixture
def handbook_documents(db, collection):
    """Two ingested documents: a public one, and one only superusers and the HR group see."""
    import django_rag

    public = Document.objects.create(
        collection=collection, title="Leave policy", source_url="https://intranet.example/leave",
        text="Employees get twenty days of paid parental leave.",
    )
    secret = Document.objects.create(
        collection=collection, title="Salary bands", visibility=Visibility.PRIVATE,
        text="Parental leave salary bands are confidential: band C pays ninety percent.",
    )
    secret.groups.add(Group.objects.create(name="HR"))
    for document in (public, secret):
        assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.count() >= 2 and Collection.objects.count() == 1
    return public, secret
