"""The operations, through ninja's TestClient (the host's NinjaAPI, no HTTP)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from django_rag.ingestion import ingest
from django_rag.models import Document

pytestmark = pytest.mark.django_db

LEAVE = "# Leave\n\nEmployees get twenty days of parental leave. Managers approve leave requests."


@pytest.fixture
def ready_document(make_document):
    document = make_document(LEAVE, name="leave.md", title="Leave policy")
    ingest(document)
    document.refresh_from_db()
    assert document.status == "ready"
    return document


@pytest.fixture
def scripted_llm(rag_settings):
    def configure(**options):
        rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": options}}, CACHE=None)

    return configure


def test_search_returns_visible_chunks_with_their_document(client, bearer, ready_document):
    response = client.get("/rag/search?q=parental%20leave&k=3", headers=bearer)
    assert response.status_code == 200, response.content
    results = response.json()
    assert results and results[0]["document_id"] == ready_document.pk
    assert results[0]["document_title"] == "Leave policy"
    assert results[0]["collection"] == "handbook"
    assert "parental leave" in results[0]["content"]


def test_search_in_an_unknown_collection_is_404_with_a_code(client, bearer, ready_document):
    response = client.get("/rag/search?q=leave&collection=nope", headers=bearer)
    assert response.status_code == 404
    assert response.json() == {"detail": "No collection 'nope'.", "code": "collection_not_found"}


@pytest.mark.parametrize("query", ["q=", "q=leave&k=0", "q=leave&k=51", "q=leave&mode=fuzzy", "k=3"])
def test_bad_search_parameters_are_422_with_a_code(client, bearer, query):
    response = client.get(f"/rag/search?{query}", headers=bearer)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid" and isinstance(body["detail"], list)


def test_ask_answers_with_citations(client, bearer, ready_document, scripted_llm):
    scripted_llm(responses=["Twenty days [1]."])
    response = client.post("/rag/ask", json={"question": "How much parental leave?"}, headers=bearer)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["answer"] == "Twenty days [1]."
    assert [c["document_id"] for c in body["citations"]] == [ready_document.pk]
    assert body["citations"][0]["number"] == 1 and body["no_answer"] is False


def test_ask_passes_the_caller_to_ask(client, bearer, user, ready_document, scripted_llm):
    from django_rag.models import QueryLog

    scripted_llm()
    client.post("/rag/ask", json={"question": "parental leave"}, headers=bearer)
    assert QueryLog.objects.get().user == user


@pytest.mark.parametrize(
    "failure, status, code", [("unavailable", 503, "llm_unavailable"), ("timeout", 504, "llm_timeout"),
                              ("bad_response", 502, "llm_bad_response")]
)
def test_llm_failures_map_to_gateway_statuses(client, bearer, ready_document, scripted_llm, failure, status, code):
    scripted_llm(fail_with=failure)
    response = client.post("/rag/ask", json={"question": "parental leave"}, headers=bearer)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "testing" not in response.json()["detail"]  # no provider details leak


def test_a_question_over_the_limit_is_400(client, bearer, rag_settings):
    rag_settings(MAX_QUESTION_LENGTH=10)
    response = client.post("/rag/ask", json={"question": "x" * 11}, headers=bearer)
    assert response.status_code == 400
    assert "MAX_QUESTION_LENGTH" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload", [{}, {"question": ""}, {"question": "ok", "mode": "x"}, {"question": "ok", "history": [{"role": "x"}]},
                {"question": "ok", "k": 0}, {"question": "\ud800"}]
)
def test_bad_ask_bodies_are_422(client, bearer, payload):
    response = client.post("/rag/ask", json=payload, headers=bearer)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid"


def test_documents_list_get_and_404(client, bearer, ready_document, make_document):
    make_document(None, title="Empty", name="")
    listing = client.get("/rag/documents?limit=1", headers=bearer).json()
    assert listing["count"] == 2 and len(listing["items"]) == 1
    ready = client.get("/rag/documents?status=ready", headers=bearer).json()
    assert [d["id"] for d in ready["items"]] == [ready_document.pk]
    one = client.get(f"/rag/documents/{ready_document.pk}", headers=bearer)
    assert one.status_code == 200 and one.json()["chunk_count"] == ready_document.chunk_count
    missing = client.get(f"/rag/documents/{ready_document.pk + 1000}", headers=bearer)
    assert missing.status_code == 404 and missing.json()["code"] == "document_not_found"


def test_invisible_documents_are_404_not_403(client, bearer, ready_document, monkeypatch):
    """The interface the access-control work fills in: whatever visible_to() hides is 'not found'."""
    from django_rag.querysets import DocumentQuerySet

    monkeypatch.setattr(DocumentQuerySet, "visible_to", lambda self, user: self.exclude(pk=ready_document.pk))
    for method, path in [("get", ""), ("delete", ""), ("post", "/reingest")]:
        response = getattr(client, method)(f"/rag/documents/{ready_document.pk}{path}", headers=bearer)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"] == "No such document."
    assert client.get("/rag/documents", headers=bearer).json()["count"] == 0


def test_upload_needs_the_add_permission(client, bearer):
    response = client.post("/rag/documents", data={"text": "hello"}, headers=bearer)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not Document.objects.exists()


def test_upload_creates_a_document_and_enqueues_ingestion(client, key_for, writer, collection,
                                                           django_capture_on_commit_callbacks):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    upload = SimpleUploadedFile("leave.md", LEAVE.encode())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/rag/documents", data={"title": "Leave", "collection": "handbook"}, FILES={"file": upload}, headers=headers
        )
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    document = Document.objects.get(pk=response.json()["id"])
    assert document.status == "ready" and document.chunk_count >= 1  # the inline queue ran ingest()
    assert document.collection == collection
    with document.file.open("rb") as stored:
        assert stored.read() == LEAVE.encode()


def test_upload_is_queued_once_with_ingest_on_save_and_owned_by_the_caller(
    client, key_for, writer, rag_settings, django_capture_on_commit_callbacks
):
    # The save receivers would queue an ingestion of a new document too; the API queues
    # its own and pauses them, so exactly one task runs.
    rag_settings(INGEST_ON_SAVE=True, QUEUE="sync")
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/rag/documents", data={"text": LEAVE, "title": "Leave"}, headers=headers)
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    document = Document.objects.get()
    assert document.status == "ready" and document.owner == writer


def test_text_upload(client, key_for, writer, django_capture_on_commit_callbacks):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/rag/documents", data={"text": LEAVE, "title": "Leave"}, headers=headers)
    assert response.status_code == 202
    assert Document.objects.get().text == LEAVE


@pytest.mark.parametrize(
    "data, files, status, code",
    [
        ({}, {}, 400, "file_or_text"),
        ({"text": "x"}, {"file": ("a.txt", b"hello")}, 400, "file_or_text"),
        ({}, {"file": ("a.exe", b"MZ\x90\x00")}, 415, "unsupported_type"),
        ({}, {"file": ("big.txt", b"x" * 2048)}, 413, "too_large"),
        ({"text": "x", "source_url": "not a url"}, {}, 400, "bad_request"),
        ({"text": "x", "collection": "nope"}, {}, 404, "collection_not_found"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(client, key_for, writer, rag_settings, data, files, status, code):
    rag_settings(MAX_FILE_SIZE=1024)
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    uploads = {name: SimpleUploadedFile(filename, content) for name, (filename, content) in files.items()}
    response = client.post("/rag/documents", data=data, FILES=uploads, headers=headers)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Document.objects.exists()


def test_reingest_and_delete(client, key_for, writer, ready_document, django_capture_on_commit_callbacks):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    before = ready_document.ingested_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/rag/documents/{ready_document.pk}/reingest", headers=headers)
    assert response.status_code == 202 and len(callbacks) == 1
    assert response.json()["ingested_at"] != before.isoformat().replace("+00:00", "Z")  # force=True re-ran
    name = ready_document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/rag/documents/{ready_document.pk}", headers=headers).status_code == 204
    assert not Document.objects.filter(pk=ready_document.pk).exists()
    assert not ready_document.file.storage.exists(name)


def test_delete_needs_the_permission(client, bearer, ready_document):
    response = client.delete(f"/rag/documents/{ready_document.pk}", headers=bearer)
    assert response.status_code == 403
    assert Document.objects.filter(pk=ready_document.pk).exists()


def test_collections_count_documents(client, bearer, ready_document):
    assert client.get("/rag/collections", headers=bearer).json() == [
        {"id": ready_document.collection_id, "name": "Handbook", "slug": "handbook", "description": "",
         "document_count": 1}
    ]


@pytest.mark.parametrize("path", ["/rag/documents/0", "/rag/documents/9223372036854775808", "/rag/documents/x"])
def test_ids_out_of_range_are_422_not_500(client, bearer, path):
    assert client.get(path, headers=bearer).status_code == 422


def test_an_upload_without_a_known_extension_is_typed_by_its_content_type(client, key_for, writer):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    upload = SimpleUploadedFile("notes", b"# Notes\n\nSome text.", content_type="text/markdown")
    response = client.post("/rag/documents", FILES={"file": upload}, headers=headers)
    assert response.status_code == 202, response.content
    assert Document.objects.get().file.name.endswith("notes.md")
    unknown = SimpleUploadedFile("notes", b"hello", content_type="application/octet-stream")
    assert client.post("/rag/documents", FILES={"file": unknown}, headers=headers).status_code == 415


def test_a_nan_score_is_sent_as_zero_not_as_invalid_json():
    """Found by schemathesis on the example site: a chunk with no words gets an all-zero
    hashing vector, whose cosine distance is NaN when PostgreSQL scans rather than uses
    the HNSW index (which leaves such rows out); JSON has no NaN."""
    from django_rag.api.endpoints import _score

    assert _score(float("nan")) == 0.0 and _score(float("inf")) == 0.0
    assert _score(None) == 0.0 and _score(0.25) == 0.25


def test_ask_with_history_is_a_follow_up(client, bearer, ready_document, scripted_llm):
    scripted_llm(responses=["parental leave for managers", "Managers approve it [1]."])
    history = [{"role": "user", "content": "How much parental leave?"}, {"role": "assistant", "content": "20 days."}]
    response = client.post("/rag/ask", json={"question": "And who approves it?", "history": history}, headers=bearer)
    assert response.status_code == 200, response.content
    assert response.json()["standalone_question"] == "parental leave for managers"
    assert response.json()["answer"] == "Managers approve it [1]."
