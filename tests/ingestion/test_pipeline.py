from __future__ import annotations

import pytest

import django_rag
from django_rag.models import Chunk, Document

LEAVE = "# Leave\n\nEmployees get twenty days of paid parental leave.\n\n" + "Filler sentence about policy. " * 60


@pytest.mark.django_db
def test_ingest_text_file_creates_chunks_with_metadata(make_document):
    document = make_document(LEAVE, name="policy.md")
    result = django_rag.ingest(document)
    assert result.status == "ingested"
    assert result.chunks == Chunk.objects.filter(document=document).count() > 1
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert document.chunk_count == result.chunks
    first = Chunk.objects.filter(document=document).order_by("index").first()
    assert first.metadata["section"] == "Leave"
    assert first.language == "english"


@pytest.mark.django_db
def test_unchanged_document_makes_no_embedding_call(make_document, testing_embedder):
    embedder = testing_embedder()
    document = make_document(LEAVE, name="policy.md")
    assert django_rag.ingest(document).status == "ingested"
    calls = len(embedder.calls)
    assert calls >= 1
    ids_before = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))

    result = django_rag.ingest(document)
    assert result.status == "unchanged" and result.embedded == 0
    assert len(embedder.calls) == calls
    assert list(Chunk.objects.filter(document=document).values_list("pk", flat=True)) == ids_before

    assert django_rag.ingest(document, force=True).status == "ingested"
    assert len(embedder.calls) > calls
