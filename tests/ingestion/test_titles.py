"""Document titles from the content (issue 18, item 6): a first heading, a PDF's title, then the file name."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

import django_rag
from django_rag.ingestion.extractors import extract, markdown_title
from django_rag.ingestion.pipeline import title_from_file_name
from django_rag.models import Document
from tests.ingestion.pdfs import make_pdf


def pdf_with_title(title: str | None) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Parental leave is twenty days."]))))
    if title is not None:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_markdown_title_is_the_first_h1_else_the_first_heading():
    assert markdown_title("Intro text\n\n## Setup\n\n# The **django-rag** guide\n") == "The django-rag guide"
    assert markdown_title("## Setup\n### Requirements") == "Setup"
    assert markdown_title("```\n# a comment in code\n```\nNo heading.") == ""


def test_html_title_is_the_first_h1_else_the_title_element():
    page = b"<html><head><title>Site | Leave</title></head><body><h2>Intro</h2><h1>Leave policy</h1><p>x</p></body></html>"
    assert extract(page, name="leave.html").metadata["title"] == "Leave policy"
    assert extract(page.replace(b"h1>", b"h3>"), name="leave.html").metadata["title"] == "Site | Leave"


def test_pdf_title_comes_from_its_metadata_unless_a_placeholder():
    assert extract(pdf_with_title("Staff handbook 2026")).metadata["title"] == "Staff handbook 2026"
    assert "title" not in extract(pdf_with_title("Microsoft Word - handbook.docx")).metadata
    assert "title" not in extract(pdf_with_title(None)).metadata


@pytest.mark.parametrize(("name", "title"), [("installation-guide.md", "Installation guide"),
                                             ("llms.md", "Llms"), ("staff_handbook v2.pdf", "Staff handbook v2")])
def test_file_name_is_the_last_resort(name, title):
    assert title_from_file_name(name) == title


def test_an_untitled_upload_is_named_by_its_content_and_a_given_title_is_kept(make_document):
    markdown = make_document("# Working from home\n\nStaff may work from home.", name="remote.md", title="")
    pdf = make_document(pdf_with_title("Staff handbook"), name="hb.pdf", title="")
    text = make_document("Just some notes.", name="meeting_notes.txt", title="")
    titled = make_document("# Heading\n\nBody text.", name="t.md", title="My own title")
    for document in (markdown, pdf, text, titled):
        assert django_rag.ingest(document).status == "ingested"
    assert [Document.objects.get(pk=d.pk).title for d in (markdown, pdf, text, titled)] == [
        "Working from home", "Staff handbook", "Meeting notes", "My own title",
    ]
    # The title found is part of the signature: the next ingestion has nothing to do.
    assert django_rag.ingest(Document.objects.get(pk=markdown.pk)).status == "unchanged"


def test_rag_ingest_titles_files_by_their_first_heading(db, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# REST API\n\nThe router answers questions.\n")
    call_command("rag_ingest", str(tmp_path / "docs"), "--sync", stdout=io.StringIO(), stderr=io.StringIO())
    assert Document.objects.get().title == "REST API"
