"""Word and CSV uploads: accepted by their extension, or by their Content-Type when the
name has none, and a .docx refused (415, naming the extra) when python-docx is missing."""

from __future__ import annotations

import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from django_rag.models import Document
from tests.ingestion.office import handbook

pytestmark = pytest.mark.django_db

WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("upload", "stored"),
    [
        (lambda: SimpleUploadedFile("handbook.docx", handbook()), "handbook.docx"),
        (lambda: SimpleUploadedFile("handbook", handbook(), content_type=WORD), "handbook.docx"),
        (lambda: SimpleUploadedFile("roster.csv", b"name,days\nAna,20\n"), "roster.csv"),
        (lambda: SimpleUploadedFile("roster", b"name,days\nAna,20\n", content_type="text/csv"), "roster.csv"),
        (lambda: SimpleUploadedFile("leave", b"name\tdays\nBo\t10\n", content_type="text/tab-separated-values"),
         "leave.csv"),
    ],
    ids=["docx", "docx-by-type", "csv", "csv-by-type", "tsv-by-type"],
)
def test_docx_and_csv_uploads_are_stored_and_ingested(client, key_for, writer, upload, stored,
                                                     django_capture_on_commit_callbacks):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/rag/documents", FILES={"file": upload()}, headers=headers)
    assert response.status_code == 202, response.content
    document = Document.objects.get(pk=response.json()["id"])
    assert document.file.name.endswith("/" + stored)
    assert document.status == "ready", document.error
    expected = "docx" if stored.endswith(".docx") else "csv"
    assert {metadata["format"] for metadata in document.chunks.values_list("metadata", flat=True)} == {expected}


def test_a_word_content_type_does_not_rename_another_extension(client, key_for, writer):
    headers = {"Authorization": f"Bearer {key_for(writer)}"}
    upload = SimpleUploadedFile("sheet.xlsx", b"PK\x03\x04", content_type=WORD)
    response = client.post("/rag/documents", FILES={"file": upload}, headers=headers)
    assert response.status_code == 415 and "'.xlsx'" in response.json()["detail"]
    assert not Document.objects.exists()


def test_a_docx_without_python_docx_is_refused_naming_the_extra(client, key_for, writer, monkeypatch):
    monkeypatch.setitem(sys.modules, "docx", None)  # what an installation without the docx extra looks like
    response = client.post(
        "/rag/documents", FILES={"file": SimpleUploadedFile("handbook.docx", handbook())},
        headers={"Authorization": f"Bearer {key_for(writer)}"},
    )
    assert response.status_code == 415
    assert "pip install 'django-rag[docx]'" in response.json()["detail"]
    assert not Document.objects.exists()


def test_the_example_sites_upload_form_offers_word_only_with_its_extra(monkeypatch):
    from site_pages.forms import accepted_extensions, supported_formats

    assert {".docx", ".csv", ".tsv"} <= set(accepted_extensions())
    assert ("Word", ".docx") in supported_formats() and ("CSV", ".csv, .tsv") in supported_formats()
    monkeypatch.setitem(sys.modules, "docx", None)
    assert ".docx" not in accepted_extensions() and ".csv" in accepted_extensions()
    assert "Word" not in dict(supported_formats())
