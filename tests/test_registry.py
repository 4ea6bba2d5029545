"""django_rag.register(): index a host model, keep it indexed on save and delete."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

import django_rag
from django_rag.exceptions import NotRegistered
from django_rag.models import Chunk, Collection, Document
from django_rag.registry import get_registration, reindex_instance
from tests.testapp.models import Article, Note

User = get_user_model()


@pytest.fixture
def registered(testing_embedder):
    """Article registered as the README shows it; the counting embedder records every call."""
    embedder = testing_embedder()
    django_rag.register(
        Article, fields=["title", "summary", "body"], title="title", url="get_absolute_url", collection="news",
        visible_to=lambda user: Q() if getattr(user, "is_staff", False) else Q(published=True),
    )
    yield embedder
    django_rag.unregister(Article)


def source_documents(model=Article):
    return Document.objects.filter(source_type=ContentType.objects.get_for_model(model))


def save(article, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        article.save()
    return callbacks


@pytest.mark.django_db
def test_save_indexes_on_commit_and_results_carry_the_object(registered, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        article = Article.objects.create(title="Harbour reopens", body="The harbour reopens to ferries in May.", slug="harbour", published=True)
        assert not source_documents().exists()  # nothing before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    document = source_documents().get()
    assert document.source_object == article and document.collection.slug == "news"
    assert document.title == "Harbour reopens" and document.get_absolute_url() == "/news/harbour/"
    assert document.status == "ready" and "ferries in May" in document.text
    (chunk,) = django_rag.search("harbour ferries", user=AnonymousUser())
    assert chunk.document.source_object == article and chunk.document.get_absolute_url() == "/news/harbour/"
    answer = django_rag.ask("When does the harbour reopen to ferries?", use_cache=False)
    (citation,) = answer.citations
    assert citation.source_object == article and citation.url == "/news/harbour/"


@pytest.mark.django_db
def test_update_reindexes_and_unchanged_content_costs_no_embedding(registered, django_capture_on_commit_callbacks):
    article = Article(title="Budget", body="The council budget grows by two percent.", slug="budget", published=True)
    save(article, django_capture_on_commit_callbacks)
    calls = len(registered.calls)
    # A save that changes nothing indexed (the slug only moves the URL): no embedding call.
    article.slug = "budget-2027"
    save(article, django_capture_on_commit_callbacks)
    assert len(registered.calls) == calls
    assert source_documents().get().source_url == "/news/budget-2027/"
    article.body = "The council budget grows by five percent."
    save(article, django_capture_on_commit_callbacks)
    assert len(registered.calls) == calls + 1
    (chunk,) = Chunk.objects.filter(document__in=source_documents())
    assert "five percent" in chunk.content and source_documents().count() == 1


@pytest.mark.django_db
def test_delete_removes_the_document_and_its_chunks(registered, django_capture_on_commit_callbacks):
    article = Article(title="Bridge", body="The old bridge closes for repairs.", slug="bridge", published=True)
    save(article, django_capture_on_commit_callbacks)
    assert Chunk.objects.filter(document__in=source_documents()).exists()
    with django_capture_on_commit_callbacks(execute=True):
        article.delete()
    assert not source_documents().exists() and not Chunk.objects.exists()
    assert django_rag.search("bridge repairs") == []


@pytest.mark.django_db
def test_rolled_back_save_enqueues_nothing(registered, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Article.objects.create(title="Never", body="This never happened.", slug="never")
            raise RuntimeError
    assert callbacks == [] and not source_documents().exists()


@pytest.mark.django_db
def test_bulk_backfill_indexes_updates_and_prunes(registered):
    # bulk_create sends no signals: the backfill is how such rows get indexed.
    Article.objects.bulk_create(
        Article(title=f"Story {n}", body=f"Story number {n} about the market square.", slug=f"s{n}", published=True)
        for n in range(6)
    )
    progress = []
    counts = django_rag.reindex_model("testapp.Article", progress=lambda done, total: progress.append((done, total)))
    assert counts["ingested"] == 6 and source_documents().count() == 6
    assert progress[-1] == (6, 6)
    # Rows changed or deleted behind the signals' back (update(), raw deletes) are caught up.
    Article.objects.filter(slug="s0").update(body="Story zero is now about the harbour.")
    Article.objects.filter(slug="s1")._raw_delete("default")
    calls = len(registered.calls)
    counts = django_rag.reindex_model(Article)
    assert counts == {"ingested": 1, "unchanged": 4, "removed": 1, "failed": 0, "busy": 0}
    assert len(registered.calls) == calls + 1  # only the changed story was embedded
    assert source_documents().count() == 5


@pytest.mark.django_db
def test_the_models_own_visibility_rule_applies_in_sql(registered, django_capture_on_commit_callbacks):
    for n, published in enumerate([True, False]):
        save(Article(title=f"Vote {n}", body="The vote on the new library.", slug=f"v{n}", published=published),
             django_capture_on_commit_callbacks)
    editor = User.objects.create(username="editor", is_staff=True)
    reader = User.objects.create(username="reader")
    titles = lambda user, mode="hybrid": {c.document.title for c in django_rag.search("library vote", user=user, mode=mode)}  # noqa: E731
    for mode in ["semantic", "keyword", "hybrid"]:
        assert titles(AnonymousUser(), mode) == titles(reader, mode) == {"Vote 0"}
        assert titles(editor, mode) == {"Vote 0", "Vote 1"}
    # Other documents are untouched by the article rule.
    Collection.objects.create(name="Misc", slug="misc")
    plain = Document.objects.create(title="Plain", text="A note about the library vote.")
    django_rag.ingest(plain)
    assert "Plain" in titles(reader)
    # The collection's rules still apply on top of the model's own.
    Collection.objects.filter(slug="news").update(visibility="private")
    assert titles(editor) == {"Plain"}


@pytest.mark.django_db
def test_models_with_uuid_keys_and_empty_text(testing_embedder, django_capture_on_commit_callbacks):
    testing_embedder()
    django_rag.register(Note, fields=["text"], visible_to=lambda user: Q(text__icontains="public"))
    try:
        note = Note(text="A public note on parking permits.")
        save(note, django_capture_on_commit_callbacks)
        hidden = Note(text="A draft on parking permits.")
        save(hidden, django_capture_on_commit_callbacks)
        assert {d.source_object for d in source_documents(Note)} == {note, hidden}
        assert [c.document.source_object for c in django_rag.search("parking permits")] == [note]
        note.text = "   "  # nothing left to index: the document goes
        save(note, django_capture_on_commit_callbacks)
        assert list(source_documents(Note)) == [Document.objects.get(source_id=str(hidden.pk))]
    finally:
        django_rag.unregister(Note)


@pytest.mark.django_db
def test_bad_registrations_and_unregistered_models_are_clear_errors():
    with pytest.raises(ValueError, match="no field or attribute 'nope'"):
        django_rag.register(Article, fields=["nope"])
    with pytest.raises(ValueError, match="at least one field"):
        django_rag.register(Article, fields=[])
    with pytest.raises(ValueError, match="format"):
        django_rag.register(Article, fields=["body"], format="pdf")
    with pytest.raises(NotRegistered, match="testapp.Article is not registered"):
        reindex_instance("testapp", "article", 1)
    with pytest.raises(NotRegistered):
        get_registration("testapp.note")


@pytest.mark.django_db
def test_rag_reindex_model_command_backfills_with_a_progress_bar(registered):
    from io import StringIO

    from django.core.management import CommandError, call_command

    Article.objects.bulk_create(
        Article(title=f"Memo {n}", body=f"Memo {n} about the canteen.", slug=f"m{n}", published=True) for n in range(3)
    )
    out, err = StringIO(), StringIO()
    call_command("rag_reindex", "--model", "testapp.Article", stdout=out, stderr=err)
    assert "testapp.Article: 3 ingested." in out.getvalue()
    assert "Indexing testapp.Article" in err.getvalue()
    assert source_documents().count() == 3
    with pytest.raises(CommandError, match="not registered"):
        call_command("rag_reindex", "--model", "testapp.Note", stdout=out, stderr=err)


@pytest.mark.django_db
def test_reindexing_an_instance_ingests_once_with_ingest_on_save(registered, rag_settings, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rag_settings(INGEST_ON_SAVE=True, QUEUE="sync")
    article = Article(title="Harbour", body="The harbour reopens in spring.", slug="harbour", published=True)
    with CaptureQueriesContext(connection) as queries:
        save(article, django_capture_on_commit_callbacks)
    assert source_documents().get().status == "ready"
    # Every ingest() takes the document's advisory lock once: the task's own, and no
    # second one queued by the save receivers for the document it created.
    assert sum("pg_try_advisory_lock" in q["sql"] for q in queries.captured_queries) == 1
