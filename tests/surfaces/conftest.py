from __future__ import annotations

import pytest

from django_rag.models import Chunk, Collection, Document


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
def visibility_rule(monkeypatch):
    """Stand in for issue 7's access control: only staff see documents marked ``{"staff": true}``.

    ``visible_to()`` returns every row until that work merges; this rule, applied
    through the same interface, shows that the surfaces ask it and honour its answer.
    """
    from django_rag import querysets

    def documents(self, user):
        return self if getattr(user, "is_staff", False) else self.exclude(metadata__contains={"staff": True})

    def chunks(self, user):
        return self if getattr(user, "is_staff", False) else self.exclude(document__metadata__contains={"staff": True})

    monkeypatch.setattr(querysets.DocumentQuerySet, "visible_to", documents)
    monkeypatch.setattr(querysets.ChunkQuerySet, "visible_to", chunks)


@pytest.fixture
def handbook_documents(db, collection):
    """Two ingested documents: a public one and a staff-only one."""
    import django_rag

    public = Document.objects.create(
        collection=collection, title="Leave policy", source_url="https://intranet.example/leave",
        text="Employees get twenty days of paid parental leave.",
    )
    secret = Document.objects.create(
        collection=collection, title="Salary bands", metadata={"staff": True},
        text="Parental leave salary bands are confidential: band C pays ninety percent.",
    )
    for document in (public, secret):
        assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.count() >= 2 and Collection.objects.count() == 1
    return public, secret
