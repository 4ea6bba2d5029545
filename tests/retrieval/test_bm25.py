"""The trigger-maintained BM25 statistics equal a rebuild from scratch, whatever the writer."""

from __future__ import annotations

import pytest
from django.db import connection

import django_rag
from django_rag import bm25
from django_rag.models import Chunk, Document


def snapshot():
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text, chunks, tokens FROM django_rag_corpus WHERE chunks > 0 ORDER BY 1")
        corpus = cursor.fetchall()
        cursor.execute("SELECT config::text, lexeme, df FROM django_rag_term WHERE df > 0 ORDER BY 1, 2")
        terms = cursor.fetchall()
        cursor.execute("SELECT config::text, lexeme, chunk_id FROM django_rag_posting ORDER BY 1, 2, 3")
        postings = cursor.fetchall()
    return corpus, terms, postings


@pytest.mark.django_db
def test_statistics_follow_inserts_updates_deletes_and_truncate(collection):
    docs = [
        Document.objects.create(collection=collection, title=f"d{n}", text=f"Alpha beta gamma {n}. " * (n + 1))
        for n in range(5)
    ]
    for document in docs:
        django_rag.ingest(document)
    german = Document.objects.create(collection=collection, title="de", text="Die Häuser sind groß.", language="german")
    django_rag.ingest(german)

    docs[1].delete()  # ORM cascade
    Chunk.objects.filter(document=docs[2]).update(content="Delta epsilon")  # UPDATE of content
    django_rag.ingest(docs[3], force=True)  # delete + COPY in one transaction
    incremental = snapshot()
    assert incremental[0] and incremental[1] and incremental[2]

    bm25.rebuild()
    assert snapshot() == incremental

    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; TRUNCATE refuses to run with their checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE django_rag_chunk")
    assert snapshot() == ([], [], [])


@pytest.mark.django_db
def test_each_language_is_tokenised_with_its_own_configuration(collection):
    english = Document.objects.create(collection=collection, title="en", text="The houses were running.")
    german = Document.objects.create(collection=collection, title="de", text="Die Häuser liefen schnell.", language="german")
    simple = Document.objects.create(collection=collection, title="simple", text="houses running", language="simple")
    for document in (english, german, simple):
        django_rag.ingest(document)
    # English stemming matches "house"/"run" against "houses were running"; "simple" does not stem.
    assert [c.document.title for c in Chunk.objects.keyword("house run").select_related("document")] == ["en"]
    # German stemming: "Haus" matches "Häuser" in the German chunk...
    assert [c.document.title for c in Chunk.objects.keyword("Haus", language="german").select_related("document")] == ["de"]
    # ...which the English configuration's postings do not hold.
    assert Chunk.objects.keyword("Haus", language="english").count() == 0
    titles = {c.document.title for c in Chunk.objects.keyword("houses running").select_related("document")}
    assert titles == {"en", "simple"}
    assert Chunk.objects.get(document=german).language == "german"


@pytest.mark.django_db
def test_collection_language_is_used_when_the_document_has_none(collection):
    collection.language = "simple"
    collection.save()
    document = Document.objects.create(collection=collection, title="c", text="running houses")
    django_rag.ingest(document)
    assert Chunk.objects.get(document=document).language == "simple"
    assert Chunk.objects.keyword("running", language="simple").count() == 1
    assert Chunk.objects.keyword("run", language="simple").count() == 0


@pytest.mark.django_db
def test_rebuild_command(collection, capsys):
    from django.core.management import call_command

    django_rag.ingest(Document.objects.create(collection=collection, title="x", text="Rebuild me please."))
    call_command("rag_rebuild_bm25")
    out = capsys.readouterr().out
    assert "english: 1 chunks" in out and "postings written" in out
