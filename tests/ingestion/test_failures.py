"""Bad input never costs a document its searchable chunks.

Each test ingests a good version first, then replaces the file with a bad one and
re-ingests: the document must say ``failed`` with a message a person can act on, and
the chunks from the good version must still be there, row for row, and still be found.
"""

from __future__ import annotations

import pytest

import django_rag
from django_rag.exceptions import EmbeddingError, IngestionError
from django_rag.models import Chunk, Document

from .conftest import chunk_rows, searchable
from .pdfs import encrypt_pdf, make_pdf, truncate_pdf

GOOD = "Employees get twenty days of paid parental leave.\n\n" + "Filler sentence about policy. " * 40
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture
def good_document(make_document):
    document = make_document(GOOD, name="policy.txt")
    result = django_rag.ingest(document)
    assert result.status == "ingested" and result.chunks > 1
    return document


def assert_failed_and_kept(document, before, result, *, code, message):
    assert result.status == "failed"
    assert result.error_code == code
    assert message in result.error
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error == result.error
    assert chunk_rows(document) == before
    assert document.chunk_count == len(before)
    assert searchable(document, "parental leave")


BAD_FILES = {
    "corrupt-pdf": (truncate_pdf(make_pdf(["Parental leave"] * 3)), "policy.pdf", "corrupt", "damaged or truncated"),
    "encrypted-pdf": (
        encrypt_pdf(make_pdf(["Parental leave"]), user_password="s3cret"),
        "policy.pdf",
        "encrypted",
        "password-protected",
    ),
    "empty": (b"", "policy.txt", "empty", "empty"),
    "whitespace": (b" \n\n\t  \r\n", "policy.txt", "empty", "empty"),
    "png-as-txt": (PNG, "policy.txt", "binary", "binary data"),
    "exe": (b"MZ\x90\x00\x03", "policy.exe", "unsupported_type", "'.exe'"),
    "xlsx": (b"PK\x03\x04\x14\x00\x06\x00", "policy.xlsx", "unsupported_type", "'.xlsx'"),
    "zip-header-as-docx": (b"PK\x03\x04\x14\x00\x06\x00", "policy.docx", "corrupt", "not a .docx"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_file_fails_and_keeps_previous_chunks(good_document, replace_file, case):
    data, name, code, message = BAD_FILES[case]
    before = chunk_rows(good_document)
    replace_file(good_document, data, name)
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, before, result, code=code, message=message)


@pytest.mark.django_db
def test_raise_errors_raises_the_typed_error(good_document, replace_file):
    replace_file(good_document, b"", "policy.txt")
    with pytest.raises(IngestionError) as info:
        django_rag.ingest(good_document, raise_errors=True)
    assert info.value.code == "empty"
    good_document.refresh_from_db()
    assert good_document.status == Document.Status.FAILED


@pytest.mark.django_db
def test_file_over_max_file_size(good_document, replace_file, rag_settings):
    before = chunk_rows(good_document)
    rag_settings(MAX_FILE_SIZE=len(GOOD.encode()) + 10)
    replace_file(good_document, GOOD.encode() + b"x" * 100)
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, before, result, code="too_large", message="MAX_FILE_SIZE")
    assert f"{len(GOOD) + 100:,} bytes" in result.error


@pytest.mark.django_db
def test_text_over_max_text_length(good_document, replace_file, rag_settings):
    before = chunk_rows(good_document)
    rag_settings(MAX_TEXT_LENGTH=len(GOOD) + 10)
    replace_file(good_document, (GOOD + " More words.").encode() * 2)
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, before, result, code="too_large", message="MAX_TEXT_LENGTH")


@pytest.mark.django_db
def test_missing_file_fails_clearly(good_document):
    before = chunk_rows(good_document)
    good_document.file.storage.delete(good_document.file.name)
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, before, result, code="missing_file", message="is no longer in storage")


@pytest.mark.django_db
def test_unknown_language_fails_clearly(good_document):
    before = chunk_rows(good_document)
    Document.objects.filter(pk=good_document.pk).update(language="klingon")
    result = django_rag.ingest(good_document)
    assert_failed_and_kept(good_document, before, result, code="unknown_language", message="'klingon'")
    assert "text search configuration" in result.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (text.encode(encoding), text)
        for text, encoding in [
            ("Caf\u00e9 budget \u2013 \u201cparental\u201d leave", "cp1252"),
            ("Gr\u00f6\u00dfe der parental leave: na\u00efve", "latin-1"),
            ("\u00dcbersicht parental leave \u65e5\u672c", "utf-16"),
        ]
    ],
    ids=["cp1252", "latin-1", "utf-16-bom"],
)
def test_unexpected_encodings_ingest_with_the_right_text(good_document, replace_file, data, expected):
    replace_file(good_document, data)
    result = django_rag.ingest(good_document)
    assert result.status == "ingested", result.error
    assert list(Chunk.objects.filter(document=good_document).values_list("content", flat=True)) == [expected]
    assert searchable(good_document, "parental leave")


@pytest.mark.django_db
def test_embedder_failing_halfway_writes_nothing(good_document, replace_file, rag_settings, testing_embedder):
    # Re-ingest the good version with the counting embedder so that it is the baseline.
    testing_embedder()
    assert django_rag.ingest(good_document).status == "ingested"
    before = chunk_rows(good_document)

    rag_settings(EMBED_BATCH_SIZE=2, CHUNK_SIZE=80, CHUNK_OVERLAP=0)
    embedder = testing_embedder(fail_on_batch=2)
    replace_file(good_document, ("A new paragraph about expenses and receipts.\n\n" * 8).encode())
    result = django_rag.ingest(good_document)

    assert len(embedder.calls) == 2  # it stopped at the failing batch
    assert result.error_code == "embedding_failed"
    assert "batch 2 of 4" in result.error and "scripted failure" in result.error
    assert_failed_and_kept(good_document, before, result, code="embedding_failed", message="ScriptedEmbeddingFailure")

    # The next good run clears the error.
    testing_embedder()
    result = django_rag.ingest(good_document)
    assert result.status == "ingested"
    good_document.refresh_from_db()
    assert good_document.status == Document.Status.READY and good_document.error == ""
    assert good_document.chunk_count == result.chunks == 8
    assert searchable(good_document, "expenses receipts")


@pytest.mark.django_db
def test_embedder_failure_with_raise_errors(good_document, replace_file, testing_embedder):
    testing_embedder(fail_on_batch=1)
    replace_file(good_document, b"Changed text about parental leave.")
    with pytest.raises(EmbeddingError, match="batch 1 of 1"):
        django_rag.ingest(good_document, raise_errors=True)

