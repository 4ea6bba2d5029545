from __future__ import annotations

from pathlib import PurePath

import pytest
from django.contrib.postgres.search import SearchQuery
from django.core.files.base import ContentFile

from django_rag.models import Chunk, Document


def chunk_rows(document: Document) -> list[tuple]:
    """Every stored fact about a document's chunks; COPY gives new rows new primary keys,
    so equal lists mean not one row was rewritten."""
    return list(
        Chunk.objects.filter(document_id=document.pk)
        .order_by("index")
        .values_list("pk", "index", "content", "metadata", "embedder", "language")
    )


def searchable(document: Document, words: str) -> bool:
    """Both search paths find the document: full text, and nearest vector by the
    embedder that made its chunks."""
    fts = Chunk.objects.filter(document_id=document.pk, search_vector=SearchQuery(words, config="english"))
    nearest = Chunk.objects.semantic(words)[:1]
    return fts.exists() and [c.document_id for c in nearest] == [document.pk]


@pytest.fixture
def replace_file():
    """Swap the stored file under a document, as an editor uploading a new version would.

    Only the ``file`` column is written so the test's (possibly stale) instance cannot
    put back old status fields.
    """

    def replace(document: Document, data: bytes, name: str | None = None) -> None:
        name = name or PurePath(document.file.name).name
        document.file.save(name, ContentFile(data), save=False)
        document.save(update_fields=["file"])

    return replace
