"""What an embedder backend sends back is checked before anything stores or searches it.

Backends here are small subclasses configured through DJANGO_RAG["EMBEDDERS"], as a site's
own backend would be, returning what no embedder should. At ingestion the document ends
``failed`` with a reason naming the alias and keeps its previous chunks; at query time
``search()`` and ``ask()`` raise ``EmbeddingError``, never a TypeError or a database error.
"""

from __future__ import annotations

import math

import pytest

import django_rag
from django_rag.embedders.hashing import Embedder as Hashing
from django_rag.exceptions import EmbeddingError
from django_rag.models import Chunk, Document

pytestmark = pytest.mark.django_db

BAD_OUTPUTS = {
    "none": lambda n, d: None,
    "string": lambda n, d: "not vectors",
    "too_few": lambda n, d: [[0.1] * d] * max(n - 1, 0),
    "too_many": lambda n, d: [[0.1] * d] * (n + 1),
    "wrong_dimension": lambda n, d: [[0.1] * (d - 1)] * n,
    "nan": lambda n, d: [[math.nan] * d] * n,
    "infinity": lambda n, d: [[math.inf] * d] * n,
    "strings_inside": lambda n, d: [["x"] * d] * n,
    "none_vector": lambda n, d: [None] * n,
}


class Misbehaving(Hashing):
    """The hashing embedder (64 dimensions, like the suite's), until ``broken`` says otherwise."""

    broken: str | None = None

    def embed_documents(self, texts):
        if self.broken:
            return BAD_OUTPUTS[self.broken](len(texts), self.dimensions)
        return super().embed_documents(texts)

    def embed_query(self, text):
        if self.broken:
            answer = BAD_OUTPUTS[self.broken](1, self.dimensions)
            return answer[0] if isinstance(answer, list) and answer else answer
        return super().embed_query(text)


@pytest.fixture
def misbehaving(rag_settings):
    rag_settings(
        EMBEDDERS={"default": {"BACKEND": f"{__name__}.Misbehaving", "OPTIONS": {"dimensions": 64}}},
        CACHE=None,
    )
    # Set on the class: a settings change builds new embedder instances.
    Misbehaving.broken = None
    yield Misbehaving
    Misbehaving.broken = None


@pytest.fixture
def document(collection, misbehaving):
    document = Document.objects.create(collection=collection, title="Pumps", text="The pump is serviced every spring.")
    assert django_rag.ingest(document).status == "ingested"
    return document


@pytest.mark.parametrize("kind", sorted(BAD_OUTPUTS))
def test_a_bad_embedding_at_ingestion_fails_the_document_and_keeps_its_chunks(document, misbehaving, kind):
    misbehaving.broken = kind
    document.text = "The pump is serviced every autumn now."
    document.save()
    result = django_rag.ingest(document)
    document.refresh_from_db()
    if kind == "too_few" and result.status == "ingested":
        pytest.fail("a missing vector went unnoticed")
    assert result.status == "failed", result
    assert "'default'" in document.error and "Traceback" not in document.error
    assert Chunk.objects.filter(document=document, content__contains="every spring").count() == 1


@pytest.mark.parametrize("kind", sorted(set(BAD_OUTPUTS) - {"too_few", "too_many"}))
def test_a_bad_query_embedding_is_a_clear_error(document, misbehaving, rag_settings, kind):
    rag_settings(HYBRID_WEIGHTS={"semantic": 1.0, "keyword": 1.0})
    misbehaving.broken = kind
    with pytest.raises(EmbeddingError, match="'default'"):
        django_rag.search("pump serviced", k=3, mode="semantic")
    with pytest.raises(EmbeddingError, match="'default'"):
        django_rag.ask("When is the pump serviced?", mode="semantic")
