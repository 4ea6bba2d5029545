"""Extraction has a budget: crafted PDFs fail their own document, fast, and lose nothing.

The PDFs are built here, object by object (tests/ingestion/pdfs.py): a page-count bomb,
a content stream that costs pypdf CPU without end, a compressed stream that inflates to
gigabytes, a page tree that contains itself. Each is uploaded as a new version of a
document that was ingested fine before: it must end ``failed`` with a reason that names
the limit, within the budget, with the previous chunks still searchable.
"""

from __future__ import annotations

import time
import zlib

import pytest
from django.core.files.base import ContentFile

import django_rag
from django_rag.exceptions import ExtractionLimitExceeded, FileTooLarge
from django_rag.ingestion.extractors import extract
from django_rag.models import Chunk, Document
from tests.ingestion.pdfs import _stream, _text_stream, _write, make_pdf

pytestmark = pytest.mark.django_db


def pdf_with_content(content: bytes, *, compress: bool = True) -> bytes:
    """One page whose content stream is ``content`` (Flate-compressed when ``compress``)."""
    stream = _stream(zlib.compress(content, 9), b" /Filter /FlateDecode") if compress else _stream(content)
    return _write([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        stream,
    ])


def cpu_bomb() -> bytes:
    """A few hundred kilobytes that make pypdf parse millions of text operators."""
    return pdf_with_content(b"BT /F1 12 Tf " + b"(a) Tj 0 0 Td " * 3_000_000 + b"ET")


def inflation_bomb(gigabytes: float = 2.0) -> bytes:
    """A content stream of ``gigabytes`` of spaces, deflated to a few megabytes."""
    compressor = zlib.compressobj(9)
    block = b" " * (16 * 1024 * 1024)
    parts = [compressor.compress(block) for _ in range(int(gigabytes * 64))]
    parts.append(compressor.flush())
    data = b"".join(parts)
    return _write([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        _stream(data, b" /Filter /FlateDecode"),
    ])


def page_tree_loop() -> bytes:
    """A page tree whose only kid is the tree itself."""
    return _write([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
    ])


@pytest.fixture
def good_document(collection):
    document = Document(collection=collection, title="Manual")
    document.file.save("manual.pdf", ContentFile(make_pdf(["The pump is serviced every spring."])), save=False)
    document.save()
    assert django_rag.ingest(document).status == "ingested"
    return document


def replace_file(document: Document, data: bytes) -> None:
    document.file.save("manual-v2.pdf", ContentFile(data), save=False)
    document.save()


def assert_failed_and_kept(document: Document, result, reason: str) -> None:
    document.refresh_from_db()
    assert result.status == "failed" and document.status == Document.Status.FAILED
    assert reason in document.error, document.error
    # The previous version is untouched and still found.
    assert [c.document_id for c in django_rag.search("pump serviced spring", k=3)][:1] == [document.pk]
    assert Chunk.objects.filter(document=document, content__contains="serviced every spring").count() == 1


def test_a_pdf_that_costs_cpu_without_end_is_stopped_at_the_budget(good_document, rag_settings):
    rag_settings(MAX_EXTRACT_SECONDS=2)
    replace_file(good_document, cpu_bomb())
    started = time.monotonic()
    result = django_rag.ingest(good_document)
    elapsed = time.monotonic() - started
    assert elapsed < 8, f"the worker was held {elapsed:.1f} s"
    assert_failed_and_kept(good_document, result, "MAX_EXTRACT_SECONDS")


def test_a_two_gigabyte_inflation_bomb_fails_fast(good_document, rag_settings):
    rag_settings(MAX_EXTRACT_SECONDS=30)
    bomb = inflation_bomb()
    assert len(bomb) < 5 * 1024 * 1024  # small on disk, 2 GB once inflated
    replace_file(good_document, bomb)
    started = time.monotonic()
    result = django_rag.ingest(good_document)
    assert time.monotonic() - started < 30
    # pypdf stops inflating one stream at 75 MB; the reason says a limit was reached.
    assert_failed_and_kept(good_document, result, "imit")


def test_too_many_pages_fail_before_any_page_is_read(good_document, rag_settings):
    rag_settings(MAX_PAGES=20)
    replace_file(good_document, make_pdf([f"Page {n}" for n in range(25)]))
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, result, "has 25 pages; the limit is 20 (DJANGO_RAG['MAX_PAGES'])")


def test_a_page_tree_that_contains_itself_fails_clearly(good_document):
    replace_file(good_document, page_tree_loop())
    started = time.monotonic()
    result = django_rag.ingest(good_document)
    assert time.monotonic() - started < 10
    good_document.refresh_from_db()
    assert result.status == "failed" and good_document.error
    assert "Traceback" not in good_document.error
    assert_failed_and_kept(good_document, result, "")


def test_without_the_subprocess_the_time_budget_is_checked_between_pages(rag_settings):
    rag_settings(EXTRACT_IN_SUBPROCESS=False, MAX_EXTRACT_SECONDS=0.01, MAX_PAGES=None)
    many_pages = make_pdf([[f"Line {n} of page {p}" for n in range(40)] for p in range(300)])
    with pytest.raises(ExtractionLimitExceeded, match=r"stopped at page \d+ of 300"):
        extract(many_pages, name="big.pdf")


def test_the_page_limit_holds_in_process_too(rag_settings):
    rag_settings(EXTRACT_IN_SUBPROCESS=False, MAX_PAGES=3)
    with pytest.raises(FileTooLarge, match="MAX_PAGES"):
        extract(make_pdf(["a", "b", "c", "d"]), name="four.pdf")


def test_good_pdfs_extract_the_same_in_the_subprocess_and_in_process(rag_settings):
    data = make_pdf([["Heading", "Employees get twenty days."], "Second page."])
    rag_settings(EXTRACT_IN_SUBPROCESS=True)
    sandboxed = extract(data, name="a.pdf")
    rag_settings(EXTRACT_IN_SUBPROCESS=False)
    in_process = extract(data, name="a.pdf")
    assert sandboxed == in_process
    assert [s.metadata["page"] for s in sandboxed.sections] == [1, 2]
