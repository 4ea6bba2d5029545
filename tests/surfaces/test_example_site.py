"""The example site's pages (example_project/site_pages), mounted at /example/ in the test project."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from django_rag.models import Document

pytestmark = pytest.mark.django_db


def test_upload_needs_a_login(client):
    response = client.get("/example/upload/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_an_unsupported_file_is_refused_with_the_form_kept(admin_client, collection):
    response = admin_client.post(
        "/example/upload/",
        {"title": "Picture", "collection": collection.pk, "file": SimpleUploadedFile("photo.png", b"\x89PNG\r\n")},
    )
    assert response.status_code == 200
    assert ".png cannot be searched" in response.content.decode()
    assert 'value="Picture"' in response.content.decode()
    assert not Document.objects.exists()


def test_documents_page_refreshes_while_work_is_waiting(client, make_document):
    pending = make_document("Parental leave is twenty days.", title="Leave")
    make_document("Salary bands.", title="Salaries", visibility="private")
    page = client.get("/example/documents/").content.decode()
    assert 'http-equiv="refresh"' in page and "Leave" in page
    assert "Salaries" not in page  # Document.objects.visible_to(request.user)
    import django_rag

    django_rag.ingest(pending)
    assert 'http-equiv="refresh"' not in client.get("/example/documents/").content.decode()


def test_home_page_answers_with_the_template_tag(client, handbook_documents):
    page = client.get("/example/", {"q": "How long is parental leave?"}).content.decode()
    assert 'class="rag-answer' in page and 'class="rag-citation"' in page
    assert client.get("/example/").status_code == 200
