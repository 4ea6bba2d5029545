"""Word and CSV files: real ones built here, broken and hostile ones, through the real pipeline.

Extraction is checked on the extractor's output; ingestion on the chunks stored in
PostgreSQL. A bad file uploaded as a new version must fail with a message and leave the
previous version's chunks searchable (as tests/ingestion/test_failures.py does for PDFs).
"""

from __future__ import annotations

import io
import sys
import time
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from hypothesis import given, settings
from hypothesis import strategies as st
from django.core.management import call_command

import django_rag
from django_rag.exceptions import (
    BinaryContent, CorruptFile, EmptyDocument, EncryptedFile, FileTooLarge, IngestionError, MissingDependency,
)
from django_rag.ingestion.extractors import Limits, detect_format, extension_map, extract, extractors
from django_rag.ingestion.extractors.csv import CSVExtractor
from django_rag.ingestion.extractors.docx import DocxExtractor
from django_rag.ingestion.pipeline import source_file
from django_rag.models import Chunk, Document

from . import office
from .conftest import chunk_rows, searchable

WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
GOOD = HANDBOOK = office.handbook()


def sections(data: bytes, name: str) -> list[tuple[str, dict]]:
    return [(s.text, s.metadata) for s in extract(data, name=name).sections]


# --- Word: what becomes sections ------------------------------------------------------------


def test_docx_headings_become_the_section_path_tables_rows_and_page_breaks_pages():
    extracted = extract(office.handbook(), name="handbook.docx")
    assert extracted.format == "docx"
    assert [(s.text, s.metadata) for s in extracted.sections] == [
        (
            "Staff handbook\n\nLeave\nEmployees get twenty days of paid parental leave.\n\n"
            "Kind | Days\nParental | 20\nSick | 10\n\nLeave is booked with form B.",
            {"section": "Staff handbook > Leave", "heading": "Leave", "page": 1},
        ),
        (
            "Expenses\n\nReceipts\nReceipts are due within thirty days; the cafe budget is separate.",
            {"section": "Staff handbook > Expenses > Receipts", "heading": "Receipts", "page": 2},
        ),
    ]
    # The Title-style paragraph names the document (python-docx's template has no title).
    assert extracted.metadata == {"pages": 2, "title": "Staff handbook"}


def test_docx_title_property_wins_unless_it_is_a_placeholder():
    assert extract(office.handbook(title="Employee handbook 2026"), name="x.docx").metadata["title"] == (
        "Employee handbook 2026"
    )
    assert extract(office.handbook(title="Word Document"), name="x.docx").metadata["title"] == "Staff handbook"


def test_docx_pages_laid_out_by_word_follow_its_rendered_breaks():
    extracted = extract(office.rendered_pages(["One.", "Two.", "Three."]), name="x.docx")
    assert [(s.text, s.metadata) for s in extracted.sections] == [
        ("One.", {"page": 1}), ("Two.", {"page": 2}), ("Three.", {"page": 3}),
    ]


def test_docx_without_page_breaks_has_no_page_and_without_headings_no_section():
    document = office.docx.Document()
    document.add_paragraph("Just a note.")
    assert sections(office.save(document), "note.docx") == [("Just a note.", {})]


def test_docx_headings_by_styles_based_on_them_and_outline_levels_and_no_table_of_contents():
    assert sections(office.styled_headings(), "x.docx") == [
        ("Leave\nTwenty days.", {"section": "Leave", "heading": "Leave"}),
        ("Booking\nAsk HR first.", {"section": "Leave > Booking", "heading": "Booking"}),
    ]


def test_docx_reads_content_controls_and_tables_nested_in_cells():
    assert sections(office.in_content_control_and_nested_table(), "x.docx") == [
        ("Before the control.\nInside the content control.\n\nOuter | Nested cell", {}),
    ]


# --- Word: broken and hostile files -----------------------------------------------------------

SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
# Built when a test asks (a zip bomb takes a moment to deflate).
BROKEN_DOCX = {
    "truncated": (lambda: office.truncated(office.handbook()), CorruptFile, "damaged or truncated"),
    "text-named-docx": (lambda: b"Parental leave is twenty days.\n" * 20, CorruptFile, "not a .docx"),
    "zip-not-word": (
        lambda: office.rezip(office.handbook(), drop=("[Content_Types].xml",)), CorruptFile, "not a Word document",
    ),
    "spreadsheet-named-docx": (
        lambda: office.with_main_part_of_type(office.handbook(), SPREADSHEET), CorruptFile,
        "not a Word document .its main part is 'application/vnd.openxmlformats-officedocument.spreadsheetml",
    ),
    "broken-xml": (
        lambda: office.rezip(office.handbook(), replace={office.MAIN: b"<w:document><w:body>"}), CorruptFile,
        "Word file could not be read",
    ),
    "old-doc-or-encrypted": (
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, EncryptedFile, "password-protected",
    ),
}


@pytest.mark.parametrize("case", BROKEN_DOCX, ids=list(BROKEN_DOCX))
def test_broken_docx_is_refused_with_a_message(case):
    data, error, message = BROKEN_DOCX[case]
    with pytest.raises(error, match=message):
        extract(data(), name="policy.docx")


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6))
def test_a_damaged_docx_is_read_or_refused_never_a_crash(cuts):
    # Overwrite a few bytes here and there of a real file (in zip headers, deflated data...).
    data = bytearray(HANDBOOK)
    for position, junk in cuts:
        at = position % len(data)
        data[at : at + len(junk)] = junk
    try:
        extracted = DocxExtractor().extract(bytes(data), Limits())
    except IngestionError as exc:
        assert str(exc)
    else:
        assert extracted.format == "docx"


def _peak_bytes(function) -> tuple[int, Exception]:
    tracemalloc.start()
    try:
        function()
    except Exception as exc:  # noqa: BLE001 - returned for the test to check
        error = exc
    else:
        raise AssertionError("the file was not refused")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


def test_a_docx_zip_bomb_is_refused_before_anything_is_inflated():
    bomb = office.zip_bomb(DocxExtractor.max_xml_bytes + 1024 * 1024)  # 129 MiB of XML
    assert len(bomb) < 1024 * 1024
    started = time.monotonic()
    peak, error = _peak_bytes(lambda: DocxExtractor().extract(bomb, Limits()))
    assert isinstance(error, FileTooLarge) and "zip bomb" in str(error)
    assert f"{DocxExtractor.max_xml_bytes:,} bytes of XML" in str(error)
    assert peak < 8 * 1024 * 1024 and time.monotonic() - started < 2


def test_a_docx_bomb_that_understates_its_size_is_cut_at_the_size_it_claims():
    # The central directory says 2,000 bytes; the part inflates to 64 MiB. Reading stops at
    # 2,000 bytes (and its CRC then fails), so the 64 MiB are never held.
    bomb = office.understated(office.zip_bomb(64 * 1024 * 1024), claimed=2000)
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo(office.MAIN).file_size == 2000
    peak, error = _peak_bytes(lambda: DocxExtractor().extract(bomb, Limits()))
    assert isinstance(error, CorruptFile), error
    assert peak < 8 * 1024 * 1024


def test_a_docx_bomb_is_refused_through_the_sandboxed_pipeline_too(make_document):
    document = make_document(office.handbook(), name="handbook.docx")
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)
    document.file.save("handbook-v2.docx", ContentFile(office.zip_bomb(DocxExtractor.max_xml_bytes + 1)), save=False)
    document.save(update_fields=["file"])
    result = django_rag.ingest(document)
    assert result.status == "failed" and result.error_code == "too_large" and "zip bomb" in result.error
    assert chunk_rows(document) == before and searchable(document, "parental leave")


# --- CSV: what becomes sections --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"name,team,days\nAna,HR,20\nBo,Ops,10\n", ","),
        (b"name;team;days\r\nAna;HR, Legal;20\r\nBo;Ops;10\r\n", ";"),  # commas inside cells
        (b"name\tteam\tdays\nAna\tHR\t20\nBo\tOps\t10\n", "\t"),
        (b"name|team|days\nAna|HR|20\nBo|Ops|10\n", "|"),
    ],
    ids=["comma", "semicolon", "tab", "pipe"],
)
def test_csv_delimiter_is_sniffed(data, delimiter):
    extracted = CSVExtractor().extract(data, Limits())
    assert extracted.metadata["delimiter"] == delimiter
    header, rows = extracted.sections[0].metadata["_header"], extracted.sections[0].text
    assert header == "name | team | days"
    assert rows.split("\n")[1] == "Bo | Ops | 10"


def test_csv_quoted_cells_keep_delimiters_quotes_and_line_breaks_on_one_line():
    data = b'name,note\n"Smith, J","said ""yes""\nthen left"\nDoe,plain\n'
    assert sections(data, "notes.csv") == [("Smith, J | said \"yes\" then left\nDoe | plain", {"_header": "name | note"})]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufeffname,city\nAna,K\u00f6ln\n".encode(), "utf-8-sig"),
        ("name,city\nAna,K\u00f6ln\n".encode("cp1252"), "cp1252"),
        ("name,city\nAna,K\u00f6ln\n".encode("utf-16"), "utf-16"),
    ],
    ids=["utf-8-bom", "cp1252", "utf-16"],
)
def test_csv_encodings(data, encoding):
    extracted = CSVExtractor().extract(data, Limits())
    assert extracted.metadata["encoding"] == encoding
    assert extracted.sections[0].metadata["_header"] == "name | city"  # no BOM in the first column's name
    assert extracted.sections[0].text == "Ana | K\u00f6ln"


BAD_CSV = {
    "empty": (b"", EmptyDocument, "empty"),
    "header-only": (b"name,team,days\n", EmptyDocument, "header but no rows"),
    "blank-lines": (b"\n,,\n\n", EmptyDocument, "no rows"),
    "binary": (bytes(range(256)) * 8, BinaryContent, "binary data"),
    "png-named-csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", BinaryContent, "binary data"),
    "unclosed-quote": (b'name,note\nAna,"never closed\nBo,x\n', CorruptFile, "could not be read at line"),
    "text-after-quote": (b'name,note\nAna,"quoted"trailing\n', CorruptFile, "could not be read at line 2"),
}


@pytest.mark.parametrize("case", BAD_CSV, ids=list(BAD_CSV))
def test_bad_csv_is_refused_with_a_message(case):
    data, error, message = BAD_CSV[case]
    with pytest.raises(error, match=message):
        extract(data, name="roster.csv")


@pytest.mark.parametrize("data", [b',"' * 400_000, b'name,"note\n' + b'","' * 300_000], ids=["no-line-break", "one-quote"])
def test_a_csv_crafted_for_a_slow_sniffer_is_read_fast(data):
    # csv.Sniffer took 5 s over 32 KB of ',"' (its regular expressions backtrack per quote).
    started = time.monotonic()
    with pytest.raises((EmptyDocument, CorruptFile)):
        extract(data, name="slow.csv")
    assert time.monotonic() - started < 1


def test_a_csv_over_the_row_limit_is_refused_as_it_is_read():
    rows = CSVExtractor.max_rows
    data = b"n,square\n" + b"".join(b"%d,%d\n" % (n, n * n) for n in range(rows + 5))
    with pytest.raises(FileTooLarge, match=f"more than {rows:,} rows"):
        extract(data, name="squares.csv")
    # Just under the limit is fine.
    fine = b"n,square\n" + b"".join(b"%d,%d\n" % (n, n * n) for n in range(rows))
    assert extract(fine, name="squares.csv").metadata["rows"] == rows


def test_a_csv_over_max_text_length_stops_reading_at_the_limit():
    data = b"id,text\n" + b"".join(b"%d,%s\n" % (n, b"word " * 50) for n in range(5000))
    with pytest.raises(FileTooLarge, match="MAX_TEXT_LENGTH"):
        extract(data, name="big.csv", max_length=10_000)


# --- through the pipeline: chunks and metadata in PostgreSQL ------------------------------


@pytest.mark.django_db
def test_docx_ingests_with_its_sections_pages_and_file_in_chunk_metadata(make_document):
    document = make_document(office.handbook(), name="handbook.docx", title="")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    document.refresh_from_db()
    assert document.title == "Staff handbook"
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    assert [c.metadata for c in chunks] == [
        {"format": "docx", "file": "handbook.docx", "section": "Staff handbook > Leave", "heading": "Leave", "page": 1},
        {"format": "docx", "file": "handbook.docx", "section": "Staff handbook > Expenses > Receipts",
         "heading": "Receipts", "page": 2},
    ]
    assert "Parental | 20" in chunks[0].content
    assert chunks[1].context == "Staff handbook > Expenses > Receipts"  # the title is not repeated
    assert searchable(document, "parental leave")
    assert [c.document_id for c in Chunk.objects.keyword("receipts thirty days")[:1]] == [document.pk]


@pytest.mark.django_db
def test_csv_chunks_are_groups_of_rows_each_under_the_header(make_document, rag_settings):
    rag_settings(CHUNK_SIZE=120, CHUNK_OVERLAP=0)
    people = [f"Person {n},Team {n % 3},{n} days" for n in range(1, 31)]
    document = make_document(("name,team,leave\n" + "\n".join(people) + "\n").encode(), name="roster.csv")
    assert django_rag.ingest(document).status == "ingested"
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    assert len(chunks) > 3
    seen = []
    for chunk in chunks:
        header, *rows = chunk.content.split("\n")
        assert header == "name | team | leave"  # every chunk says what its columns are
        first, last = map(int, chunk.metadata["rows"].split("-"))
        assert rows == [people[n - 1].replace(",", " | ") for n in range(first, last + 1)]
        assert chunk.metadata["format"] == "csv" and chunk.metadata["file"] == "roster.csv"
        seen.extend(range(first, last + 1))
    assert seen == list(range(1, 31))  # each row once, in order
    found = list(Chunk.objects.filter(document=document).keyword("Person 17")[:1])[0]
    assert "Person 17 | Team 2 | 17 days" in found.content and found.content.startswith("name | team | leave")


@pytest.mark.django_db
def test_tsv_and_csv_text_fields_ingest_as_csv(make_document):
    tsv = make_document(b"name\tdays\nAna\t20\n", name="leave.tsv")
    assert django_rag.ingest(tsv).status == "ingested"
    assert Chunk.objects.get(document=tsv).content == "name | days\nAna | 20"
    text = Document.objects.create(title="Roster", text="name,days\nBo,10\n", metadata={"format": "csv"})
    assert django_rag.ingest(text).status == "ingested", text.error
    assert Chunk.objects.get(document=text).metadata == {"format": "csv", "rows": "1-1"}


BAD_VERSIONS = {
    "truncated-docx": (lambda: office.truncated(GOOD), "policy.docx", "corrupt", "damaged or truncated"),
    "text-as-docx": (lambda: b"Just text.\n" * 30, "policy.docx", "corrupt", "not a .docx"),
    "docx-zip-bomb": (lambda: office.zip_bomb(DocxExtractor.max_xml_bytes + 1), "policy.docx", "too_large", "zip bomb"),
    "binary-as-csv": (lambda: bytes(range(256)) * 4, "policy.csv", "binary", "binary data"),
    "malformed-csv": (lambda: b'name,note\nAna,"never closed\n', "policy.csv", "corrupt", "could not be read at line"),
    "header-only-csv": (lambda: b"name,note\n", "policy.csv", "empty", "header but no rows"),
    "empty-csv": (lambda: b"", "policy.csv", "empty", "empty"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_VERSIONS, ids=list(BAD_VERSIONS))
def test_a_bad_new_version_fails_and_keeps_the_previous_one_searchable(make_document, replace_file, case):
    data, name, code, message = BAD_VERSIONS[case]
    document = make_document(GOOD, name="policy.docx")
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)
    replace_file(document, data(), name)
    result = django_rag.ingest(document)
    assert (result.status, result.error_code) == ("failed", code), result.error
    assert message in result.error
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED and document.error == result.error
    assert chunk_rows(document) == before and document.chunk_count == len(before)
    assert searchable(document, "parental leave")


# --- names, the registry and its surfaces ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["../../etc/passwd\x01\x1b[2J name.docx", "..\\..\\boot\x00\r\n.csv"])
def test_hostile_file_names_are_stored_inside_the_storage_and_named_cleanly(db, name):
    data = office.handbook() if name.endswith(".docx") else b"name,days\nAna,20\n"
    document = Document(title="")
    document.file.save(name, ContentFile(data), save=False)
    document.save()
    assert ".." not in document.file.name and document.file.name.startswith("django_rag/")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    for metadata in Chunk.objects.filter(document=document).values_list("metadata", flat=True):
        file = metadata["file"]
        assert file.endswith((".docx", ".csv")) and "/" not in file and "\\" not in file
        assert file.isprintable()


@pytest.mark.django_db
def test_the_same_bytes_under_another_name_re_ingest_so_chunks_name_the_new_file(make_document, replace_file):
    document = make_document(b"name,days\nAna,20\n", name="roster-2025.csv")
    assert django_rag.ingest(document).status == "ingested"
    replace_file(document, b"name,days\nAna,20\n", "roster-2026.csv")
    assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.get(document=document).metadata["file"] == "roster-2026.csv"
    assert django_rag.ingest(document).status == "unchanged"


def test_source_file_is_the_uploaded_name_without_directories_or_control_characters():
    assert source_file("django_rag/2026/12/AbC/report\x00\x1b[31m final.docx") == "report [31m final.docx"
    assert source_file("") == ""


def test_the_registry_gives_docx_and_csv_to_every_surface():
    assert {extension_map()[e] for e in (".docx", ".csv", ".tsv")} == {"docx", "csv"}
    assert extension_map()[".txt"] == "text"
    from django_rag.ingestion.extractors import content_types

    types = content_types()
    assert types[WORD] == ".docx" and types["text/csv"] == types["text/tab-separated-values"] == ".csv"
    assert extractors()["docx"].sandboxed and not extractors()["csv"].sandboxed


def test_without_python_docx_a_docx_fails_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "docx", None)  # what an installation without the docx extra looks like
    with pytest.raises(MissingDependency, match=r"pip install 'django-rag\[docx\]'"):
        detect_format("report.docx", office.handbook())
    with pytest.raises(MissingDependency, match="Word files need the 'python-docx' package"):
        extract(office.handbook(), name="report.docx")
    assert detect_format("roster.csv", b"a,b\n1,2\n") == "csv"  # the other formats are not affected


@pytest.mark.django_db
def test_without_python_docx_ingestion_fails_and_keeps_the_chunks(make_document, monkeypatch):
    document = make_document(GOOD, name="policy.docx")
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)
    monkeypatch.setitem(sys.modules, "docx", None)
    result = django_rag.ingest(document, force=True)
    assert (result.status, result.error_code) == ("failed", "missing_dependency")
    assert "pip install 'django-rag[docx]'" in result.error
    assert chunk_rows(document) == before


@pytest.mark.django_db
def test_rag_ingest_walks_docx_csv_and_tsv_files(tmp_path, capsys):
    (tmp_path / "handbook.docx").write_bytes(GOOD)
    (tmp_path / "roster.csv").write_bytes(b"name,days\nAna,20\n")
    (tmp_path / "leave.tsv").write_bytes(b"name\tdays\nBo\t10\n")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")  # not a supported type: skipped in a directory
    call_command("rag_ingest", str(tmp_path), "--sync")
    assert "3 documents: 3 ingested." in capsys.readouterr().out
    assert set(Chunk.objects.values_list("metadata__format", flat=True)) == {"docx", "csv"}


# --- versions: a changed extractor re-ingests its documents, and only those ------------------


@pytest.mark.django_db
def test_a_bumped_extractor_version_re_ingests_that_format_only(make_document, monkeypatch, testing_embedder):
    embedder = testing_embedder()
    word = make_document(GOOD, name="handbook.docx")
    roster = make_document(b"name,days\nAna,20\n", name="roster.csv")
    assert {django_rag.ingest(d).status for d in (word, roster)} == {"ingested"}
    assert {django_rag.ingest(d).status for d in (word, roster)} == {"unchanged"}
    calls = len(embedder.calls)
    monkeypatch.setattr(CSVExtractor, "version", "999")  # what an upgrade that changes CSV reading does
    assert django_rag.ingest(roster).status == "ingested"
    assert django_rag.ingest(word).status == "unchanged"
    assert len(embedder.calls) == calls + 1


@pytest.mark.django_db
def test_the_chunk_metadata_upgrade_re_ingests_documents_of_the_old_signature(make_document, monkeypatch):
    from django_rag.ingestion import extractors as registry

    document = make_document("# Leave\n\nTwenty days.", name="leave.md")
    monkeypatch.setattr(registry, "EXTRACTOR_VERSION", "1")  # ingested before the upgrade
    assert django_rag.ingest(document).status == "ingested"
    monkeypatch.undo()
    assert django_rag.ingest(document).status == "ingested"  # not "unchanged": its chunks gain format and file
    assert Chunk.objects.get(document=document).metadata["file"] == "leave.md"
