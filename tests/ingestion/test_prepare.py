"""``prepare()``: the pipeline's extract, split and context stage, with nothing embedded or written (issue 19, item 3)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from langchain_core.documents import Document as LCDocument

import django_rag
from django_rag.integrations.langchain import DjangoRAGVectorStore
from django_rag.ingestion.pipeline import prepare, read_source
from django_rag.models import Document

HANDBOOK = "# Leave policy\n\nParental leave is twenty days.\n\n## Managers\n\nManagers approve leave within a week.\n"


def test_prepare_gives_the_chunks_ingest_embeds_and_writes(make_document, testing_embedder):
    embedder = testing_embedder()
    document = make_document(title="", text=HANDBOOK)
    data, name, fmt = read_source(document)
    timings: dict[str, float] = {}
    with CaptureQueriesContext(connection) as queries:
        prepared = prepare(data, name=name, format=fmt, title=document.title, timings=timings)
    assert queries.captured_queries == []  # nothing read, nothing written
    assert embedder.calls == [] and set(timings) == {"extract", "split"}
    # Untitled: the content names it, and every context starts with that title.
    assert prepared.named and prepared.title == "Leave policy"
    assert prepared.contexts == ["Leave policy", "Leave policy > Managers"]

    embedder.reset()
    assert django_rag.ingest(document).status == "ingested"
    assert embedder.calls == [prepared.embedding_texts]  # what ingest() embeds, exactly
    document.refresh_from_db()
    assert document.title == "Leave policy"
    assert list(document.chunks.order_by("index").values_list("content", "context", "metadata")) == [
        (draft.content, context, draft.metadata) for draft, context in zip(prepared.drafts, prepared.contexts)
    ]


def test_a_given_title_is_kept():
    prepared = prepare(HANDBOOK.encode(), format="markdown", title="Handbook")
    assert not prepared.named and prepared.title == "Handbook"
    assert prepared.contexts == ["Handbook > Leave policy", "Handbook > Leave policy > Managers"]


def test_the_langchain_store_embeds_what_ingest_embeds_in_one_call(db, collection, testing_embedder):
    # The store foresees the texts with prepare(), the title an untitled document's
    # content names included: the pipeline then finds every vector it needs.
    embedder = testing_embedder()
    store = DjangoRAGVectorStore(collection)
    store.add_documents([LCDocument(page_content=HANDBOOK, id="leave")])
    [document] = Document.objects.all()
    assert document.title == "Leave policy"
    data, name, fmt = read_source(document)
    assert embedder.calls == [prepare(data, name=name, format=fmt).embedding_texts]
