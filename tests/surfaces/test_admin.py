from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

import django_rag
from django_rag.models import Chunk, Document, QueryLog

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_rag_document_changelist"


def run_action(client, action, documents, capture):
    with capture(execute=True):
        response = client.post(
            reverse(CHANGELIST), {"action": action, "_selected_action": [d.pk for d in documents]}, follow=True
        )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_ingest_action_queues_each_document_and_skips_ones_being_ingested(
    admin_client, make_document, django_capture_on_commit_callbacks
):
    first, second = make_document("Parental leave is twenty days."), make_document("Expenses within thirty days.")
    busy = make_document("Laptops are encrypted.")
    Document.objects.filter(pk=busy.pk).update(status=Document.Status.PROCESSING, updated_at=timezone.now())

    messages = run_action(admin_client, "ingest_documents", [first, second, busy], django_capture_on_commit_callbacks)

    assert messages == ["2 documents queued.", "1 document skipped: it is being ingested now."]
    statuses = dict(Document.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "ready", second.pk: "ready", busy.pk: "processing"}


def test_ingest_action_re_queues_a_stuck_document(admin_client, make_document, rag_settings, django_capture_on_commit_callbacks):
    rag_settings(PROCESSING_TIMEOUT=60)
    stuck = make_document("Parental leave is twenty days.")
    Document.objects.filter(pk=stuck.pk).update(
        status=Document.Status.PROCESSING, updated_at=timezone.now() - timedelta(minutes=5)
    )
    assert list(Document.objects.stuck()) == [stuck]
    assert run_action(admin_client, "ingest_documents", [stuck], django_capture_on_commit_callbacks) == [
        "1 document queued."
    ]
    stuck.refresh_from_db()
    assert stuck.status == "ready" and stuck.chunk_count > 0


def test_actions_only_queue_work_until_the_queue_runs(admin_client, make_document, rag_settings, waiting_tasks, django_capture_on_commit_callbacks):
    rag_settings(QUEUE="django_q")
    document = make_document("Parental leave is twenty days.")
    messages = run_action(admin_client, "reingest_documents", [document], django_capture_on_commit_callbacks)
    assert messages == ["1 document queued."]
    document.refresh_from_db()
    assert document.status == "pending" and not Chunk.objects.exists()  # nothing ran in the request
    assert waiting_tasks() == [("django_rag.tasks.ingest_document", [document.pk])]


def test_reingest_action_forces_a_new_embedding(admin_client, make_document, testing_embedder, django_capture_on_commit_callbacks):
    embedder = testing_embedder()
    document = make_document("Parental leave is twenty days.")
    django_rag.ingest(document)
    calls = len(embedder.calls)
    run_action(admin_client, "ingest_documents", [document], django_capture_on_commit_callbacks)
    assert len(embedder.calls) == calls  # unchanged: nothing embedded
    run_action(admin_client, "reingest_documents", [document], django_capture_on_commit_callbacks)
    assert len(embedder.calls) == calls + 1


def test_remove_chunks_action(admin_client, make_document, django_capture_on_commit_callbacks):
    keep, empty = make_document("Parental leave is twenty days."), make_document("Expenses within thirty days.")
    django_rag.ingest(keep), django_rag.ingest(empty)
    assert run_action(admin_client, "remove_chunks", [empty], django_capture_on_commit_callbacks) == [
        "1 document queued."
    ]
    assert set(Chunk.objects.values_list("document_id", flat=True)) == {keep.pk}
    empty.refresh_from_db()
    assert (empty.status, empty.chunk_count) == ("pending", 0)


def test_actions_need_the_change_permission(client, django_user_model, make_document):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_document"))
    client.force_login(viewer)
    document = make_document("Parental leave is twenty days.")
    response = client.post(reverse(CHANGELIST), {"action": "ingest_documents", "_selected_action": [document.pk]})
    # Django answers an action the user may not run with the changelist and no action taken.
    assert response.status_code == 200 and b"ingest_documents" not in response.content
    document.refresh_from_db()
    assert document.status == "pending" and not Chunk.objects.exists()


def test_upload_through_the_admin_ingests_the_file(admin_client, collection, on_save, django_capture_on_commit_callbacks):
    on_save("sync")
    upload = SimpleUploadedFile("leave.md", b"# Leave\n\nParental leave is twenty days.", content_type="text/markdown")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:django_rag_document_add"),
            {"collection": collection.pk, "title": "Leave", "file": upload, "text": "", "source_url": "",
             "language": "", "metadata": "{}", "visibility": "inherit"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    document = Document.objects.get()
    assert document.status == "ready" and document.chunk_count >= 1


def test_document_pages_show_status_error_and_timings(admin_client, make_document):
    ready = make_document("Parental leave is twenty days.", title="Leave")
    failed = make_document(b"%PDF-1.7 garbage", name="broken.pdf", title="Broken")
    django_rag.ingest(ready), django_rag.ingest(failed)
    listing = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "rag-status-ready" in listing and "rag-status-failed" in listing
    assert 'href="/admin/django_rag/document/ask/"' in listing
    page = admin_client.get(reverse("admin:django_rag_document_change", args=[ready.pk])).content.decode()
    assert "extract" in page and "embed" in page and " s" in page  # the per-step timings
    failed_page = admin_client.get(reverse("admin:django_rag_document_change", args=[failed.pk])).content.decode()
    assert "PDF" in failed_page  # the last error


def test_chunk_search_box_ranks_by_hybrid_score(admin_client, make_document):
    for text in ("Laptops lock after five minutes.", "Parental leave is twenty days.", "Leave requests go to HR."):
        django_rag.ingest(make_document(text))
    response = admin_client.get(reverse("admin:django_rag_chunk_changelist"), {"q": "parental leave"})
    assert response.status_code == 200
    results = list(response.context["cl"].result_list)
    assert "Parental leave" in results[0].content
    assert [c.score for c in results] == sorted((c.score for c in results), reverse=True)
    assert "Laptops" not in " ".join(c.content for c in results[:2])
    assert b"score" in response.content
    assert admin_client.get(reverse("admin:django_rag_chunk_changelist")).status_code == 200


def test_ask_page_shows_the_answer_with_cited_sources(admin_client, handbook_documents):
    public, _ = handbook_documents
    response = admin_client.get(reverse("admin:django_rag_ask"), {"question": "How long is parental leave?"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="rag-citation" href="https://intranet.example/leave"' in page
    assert reverse("admin:django_rag_document_change", args=[public.pk]) in page
    assert QueryLog.objects.get().question == "How long is parental leave?"


def test_ask_page_is_for_staff_and_asks_as_the_user(client, django_user_model, handbook_documents):
    from django.contrib.auth.models import Permission

    client.force_login(django_user_model.objects.create_user("visitor"))
    response = client.get(reverse("admin:django_rag_ask"), {"question": "parental leave"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not QueryLog.objects.exists()

    # Two staff members who may view documents: the salary bands are shared with the HR
    # group only, so the page shows them to the member of HR and not to the other.
    view = Permission.objects.get(codename="view_document")
    editor = django_user_model.objects.create_user("editor", is_staff=True)
    editor.user_permissions.add(view)
    client.force_login(editor)
    page = client.get(reverse("admin:django_rag_ask"), {"question": "parental leave salary band"}).content.decode()
    assert "Salary bands" not in page and "ninety percent" not in page and "Leave policy" in page
    assert QueryLog.objects.get().user == editor

    hr = django_user_model.objects.create_user("hr", is_staff=True)
    hr.user_permissions.add(view)
    hr.groups.add(Group.objects.get(name="HR"))
    client.force_login(hr)
    page = client.get(reverse("admin:django_rag_ask"), {"question": "parental leave salary band"}).content.decode()
    assert "Salary bands" in page


def test_query_log_is_listed_read_only(admin_client, handbook_documents):
    django_rag.ask("How long is parental leave?")
    response = admin_client.get(reverse("admin:django_rag_querylog_changelist"))
    assert response.status_code == 200 and b"How long is parental leave?" in response.content
    assert admin_client.get(reverse("admin:django_rag_querylog_add")).status_code == 403


def test_upload_into_a_collection_with_the_inline(admin_client, collection, on_save, django_capture_on_commit_callbacks):
    on_save("sync")
    prefix = "documents"
    upload = SimpleUploadedFile("leave.txt", b"Parental leave is twenty days.")
    data = {
        "name": collection.name, "slug": collection.slug, "description": "", "language": "", "metadata": "{}",
        "visibility": "public",
        f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000", f"{prefix}-0-title": "Leave", f"{prefix}-0-file": upload,
        f"{prefix}-0-source_url": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:django_rag_collection_change", args=[collection.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    document = collection.documents.get()
    assert document.status == "ready" and document.chunk_count == 1


def test_editing_a_document_keeps_the_status_a_worker_wrote_meanwhile(admin_client, make_document):
    from django.db.models.signals import pre_save

    document = make_document("Parental leave is twenty days.", title="Leave")
    url = reverse("admin:django_rag_document_change", args=[document.pk])
    form = admin_client.get(url).context["adminform"].form
    # What the browser would send back unchanged (empty fields, such as no groups, omitted).
    data = {name: value for name in form.fields if name != "file" and (value := form.initial.get(name)) not in (None, "", [])}
    data.update(source_url="https://intranet.example/leave", metadata="{}", collection=document.collection_id)

    def worker_finishes(sender, instance, **kwargs):
        # A worker commits its outcome after the admin loaded the row, before it saves it.
        Document.objects.filter(pk=instance.pk).update(status="ready", chunk_count=3)

    pre_save.connect(worker_finishes, sender=Document)
    try:
        response = admin_client.post(url, data)
    finally:
        pre_save.disconnect(worker_finishes, sender=Document)
    assert response.status_code == 302, response.content.decode()[:3000]
    document.refresh_from_db()
    assert document.source_url == "https://intranet.example/leave"
    assert (document.status, document.chunk_count) == ("ready", 3)


def test_collection_and_document_pages_show_only_what_the_staff_member_may_see(client, django_user_model):
    """The collection page's documents inline, its document count, the document list's
    collection filter and the document form's collection choices all follow visible_to."""
    from django.contrib.auth.models import Permission

    from django_rag.models import Collection

    owner = django_user_model.objects.create_user("owner")
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_rag",
            codename__in=["view_document", "view_collection", "change_document", "change_collection"],
        )
    )
    shared = Collection.objects.create(name="Shared", slug="shared", visibility="users")
    hidden = Collection.objects.create(name="Hidden board", slug="board", visibility="private", owner=owner)
    mine = Document.objects.create(collection=shared, title="Leave policy", text="Parental leave.", visibility="public")
    Document.objects.create(collection=shared, title="Salary bands", text="Pay.", visibility="private", owner=owner)
    Document.objects.create(collection=hidden, title="Board minutes", text="Minutes.", visibility="public")
    client.force_login(staff)

    page = client.get(reverse("admin:django_rag_collection_change", args=[shared.pk])).content.decode()
    assert "Leave policy" in page and "Salary bands" not in page
    listing = client.get(reverse("admin:django_rag_collection_changelist")).content.decode()
    assert 'class="field-document_count">1<' in listing and "Hidden board" not in listing
    documents = client.get(reverse(CHANGELIST)).content.decode()
    assert "Leave policy" in documents and "Hidden board" not in documents
    form = client.get(reverse("admin:django_rag_document_change", args=[mine.pk])).content.decode()
    assert "Shared" in form and "Hidden board" not in form
