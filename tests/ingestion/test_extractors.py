from __future__ import annotations

import pytest

import django_rag
from django_rag.exceptions import (
    BinaryContent,
    CorruptFile,
    EmptyDocument,
    EncryptedFile,
    FileTooLarge,
    UnsupportedFileType,
)
from django_rag.ingestion import extract
from django_rag.models import Chunk

from .pdfs import encrypt_pdf, make_image_only_pdf, make_pdf, truncate_pdf

PAGES = [
    ["Parental leave", "Employees get twenty days of paid parental leave (after probation)."],
    ["Expenses", "Receipts are due within thirty days; the caf\u00e9 budget is separate."],
    ["Security", "Report lost badges to the front desk immediately."],
]


def sections_of(data: bytes, name: str) -> list[tuple[str, dict]]:
    return [(s.text, s.metadata) for s in extract(data, name=name).sections]


# --- PDF ------------------------------------------------------------------------------


def test_pdf_pages_become_numbered_sections():
    extracted = extract(make_pdf(PAGES), name="handbook.pdf")
    assert extracted.format == "pdf"
    assert extracted.metadata["pages"] == 3
    assert [s.metadata for s in extracted.sections] == [{"page": 1}, {"page": 2}, {"page": 3}]
    assert "twenty days of paid parental leave (after probation)" in extracted.sections[0].text
    assert "caf\u00e9 budget" in extracted.sections[1].text
    assert "lost badges" in extracted.sections[2].text


def test_pdf_is_recognised_by_content_not_name():
    # Uploads often lose their extension ("download", "scan.bin").
    assert extract(make_pdf(["Just one page"]), name="download").format == "pdf"


def test_pdf_blank_page_keeps_later_page_numbers():
    extracted = extract(make_pdf(["First", [], "Third"]), name="x.pdf")
    assert [(s.text, s.metadata["page"]) for s in extracted.sections] == [("First", 1), ("Third", 3)]


@pytest.mark.django_db
def test_pdf_chunks_carry_their_page_number(make_document, rag_settings):
    rag_settings(CHUNK_SIZE=60, CHUNK_OVERLAP=0)
    document = make_document(make_pdf(PAGES), name="handbook.pdf")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    # Several chunks per page, and every chunk knows which page it came from.
    assert len(chunks) > 3
    assert [c.metadata["page"] for c in chunks] == sorted(c.metadata["page"] for c in chunks)
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}
    by_page = {c.metadata["page"]: c.content for c in reversed(chunks)}
    assert "Parental" in by_page[1] and "Expenses" in by_page[2] and "Security" in by_page[3]


def test_encrypted_pdf_is_refused():
    with pytest.raises(EncryptedFile, match="password-protected"):
        extract(encrypt_pdf(make_pdf(PAGES), user_password="s3cret"), name="x.pdf")


def test_pdf_encrypted_with_empty_user_password_opens():
    # Owner-password-only PDFs (printing or copying restricted) are common and readable.
    data = encrypt_pdf(make_pdf(PAGES), user_password="")
    assert b"/Encrypt" in data
    extracted = extract(data, name="x.pdf")
    assert [s.metadata["page"] for s in extracted.sections] == [1, 2, 3]
    assert "parental leave" in extracted.sections[0].text


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_is_corrupt(keep):
    with pytest.raises(CorruptFile, match="damaged or truncated"):
        extract(truncate_pdf(make_pdf(PAGES), keep), name="x.pdf")


def test_garbage_after_pdf_header_is_corrupt():
    with pytest.raises(CorruptFile):
        extract(b"%PDF-1.7\n" + bytes(range(256)) * 4, name="x.pdf")


def test_image_only_pdf_says_ocr_is_needed():
    with pytest.raises(EmptyDocument, match="OCR"):
        extract(make_image_only_pdf(), name="scan.pdf")


def test_pdf_text_limit_stops_early():
    with pytest.raises(FileTooLarge, match="MAX_TEXT_LENGTH"):
        extract(make_pdf(PAGES * 5), name="x.pdf", max_length=100)


# --- plain text and encodings -----------------------------------------------------------


def test_txt_is_one_section_without_metadata():
    assert sections_of(b"Line one.\r\nLine two.\r\n\r\n\r\n\r\nLast.", "notes.txt") == [
        ("Line one.\nLine two.\n\nLast.", {})
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Caf\u00e9 \u2013 \u201cquoted\u201d \u20ac5".encode("cp1252"), "Caf\u00e9 \u2013 \u201cquoted\u201d \u20ac5"),
        ("Gr\u00f6\u00dfe na\u00efve \u00c5ngstr\u00f6m".encode("latin-1"), "Gr\u00f6\u00dfe na\u00efve \u00c5ngstr\u00f6m"),
        # 0x81 and 0x90 are unassigned in Windows-1252, so only Latin-1 can read them.
        (b"control \x81 and \x90 bytes \xe9", "control \x81 and \x90 bytes \u00e9"),
        ("\u00dcbersicht: \u65e5\u672c\u8a9e".encode("utf-16"), "\u00dcbersicht: \u65e5\u672c\u8a9e"),
        ("\u00dcbersicht".encode("utf-16-be").join([b"\xfe\xff", b""]), "\u00dcbersicht"),
        ("\ufeffUTF-8 with a BOM \u00e9".encode("utf-8"), "UTF-8 with a BOM \u00e9"),
    ],
    ids=["cp1252", "latin-1", "latin-1-only", "utf-16-bom", "utf-16-be-bom", "utf-8-bom"],
)
def test_text_in_other_encodings_is_decoded(data, expected):
    assert sections_of(data, "x.txt") == [(expected, {})]


def test_png_posing_as_text_is_binary():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    with pytest.raises(BinaryContent, match="binary data"):
        extract(png, name="notes.txt")


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n  ", "\u00a0\u2003\n".encode(), "  ".encode("utf-16")])
def test_empty_and_blank_files_are_empty(data):
    with pytest.raises(EmptyDocument):
        extract(data, name="x.txt")


@pytest.mark.parametrize("name", ["setup.exe", "sheet.xlsx", "archive", "photo.PNG"])
def test_unsupported_types_name_the_extension(name):
    with pytest.raises(UnsupportedFileType, match="Unsupported file type") as info:
        extract(b"PK\x03\x04 whatever", name=name)
    assert ".pdf" in str(info.value)  # the message lists what would work


def test_utf16_heading_with_nul_is_cleaned_out_of_metadata():
    # UTF-16 skips the binary check, and jsonb cannot store \u0000.
    sections = sections_of("# A\x00B\nbody".encode("utf-16"), "x.md")
    assert sections == [("# A B\nbody", {"section": "A B", "heading": "A B"})]


# --- Markdown ---------------------------------------------------------------------------

GUIDE = """Intro before any heading.

# Guide

Welcome.

## Install

Run the installer.

```bash
# this is a shell comment, not a heading
pip install thing
```

### Requirements

Python 3.11.

## Learning C#

Sharp notes.

# Appendix
## Glossary

Terms.
"""


def test_markdown_heading_paths():
    sections = sections_of(GUIDE.encode(), "guide.md")
    assert [meta.get("section") for _, meta in sections] == [
        None,
        "Guide",
        "Guide > Install",
        "Guide > Install > Requirements",
        "Guide > Learning C#",
        "Appendix > Glossary",
    ]
    install = sections[2][0]
    assert "# this is a shell comment, not a heading" in install and "pip install thing" in install
    # "Appendix" has no text of its own: it rides along with its first subsection.
    assert sections[-1][0] == "# Appendix\n## Glossary\n\nTerms."


def test_markdown_fences_must_close_with_a_matching_fence():
    text = "# A\n\n````md\n```\n# inside four backticks\n```\n````\n\n~~~\n```\n# inside tildes\n~~~\n\n## B\n\ntext"
    sections = sections_of(text.encode(), "x.md")
    assert [meta["section"] for _, meta in sections] == ["A", "A > B"]
    assert "# inside four backticks" in sections[0][0] and "# inside tildes" in sections[0][0]


def test_markdown_hash_without_space_is_not_a_heading():
    sections = sections_of(b"# Tags\n\n#hashtag and #1 priority\n", "x.md")
    assert sections == [("# Tags\n\n#hashtag and #1 priority", {"section": "Tags", "heading": "Tags"})]


@pytest.mark.django_db
def test_markdown_sections_reach_chunk_metadata(make_document):
    document = make_document(GUIDE, name="guide.md")
    assert django_rag.ingest(document).status == "ingested"
    sections = list(Chunk.objects.filter(document=document).order_by("index").values_list("metadata", flat=True))
    assert {"section": "Guide > Install > Requirements", "heading": "Requirements", "format": "markdown",
            "file": "guide.md"} in sections


# --- HTML -------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><title>Staff handbook</title>
<style>h1 { color: red } .secret { display: none }</style>
<script>var leaked = "SCRIPT_TEXT"; if (a < b && c > d) {}</script>
<body>
<nav>Home &raquo; Policies</nav>
<h1>Leave</h1>
<p>Parents get <b>twenty</b> days &amp; keep their pay&nbsp;in full.</p>
<h2>Allowances</h2>
<table>
  <tr><th>Kind</th><th>Days</th></tr>
  <tr><td>Parental</td><td>20</td></tr>
  <tr><td>Sick</td><td>10</td></tr>
</table>
<noscript>Enable JavaScript NOSCRIPT_TEXT</noscript>
<h1>Expenses</h1>
<p>Caf&eacute; receipts &lt;30 days&gt;.</p>
</body></html>
"""


def test_html_sections_entities_and_skipped_elements():
    sections = sections_of(PAGE.encode(), "handbook.html")
    text = "\n".join(t for t, _ in sections)
    # The <nav> is the page's furniture, not its content (main content only, beautifulsoup4).
    for hidden in ("SCRIPT_TEXT", "color: red", "NOSCRIPT_TEXT", "Staff handbook", "Policies"):
        assert hidden not in text
    assert [meta.get("section") for _, meta in sections] == ["Leave", "Leave > Allowances", "Expenses"]
    assert "Parents get twenty days & keep their pay\u00a0in full." in sections[0][0]
    assert "Caf\u00e9 receipts <30 days>." in sections[2][0]


def test_html_table_rows_read_as_lines():
    sections = dict((meta.get("section"), t) for t, meta in sections_of(PAGE.encode(), "x.html"))
    assert "Kind | Days\nParental | 20\nSick | 10" in sections["Leave > Allowances"]


def test_html_without_closing_head_keeps_its_body():
    # HTML lets a page omit </head> and <body>; the body must not be mistaken for head.
    page = b"<html><head><title>T</title><meta charset=utf-8><h1>Hello</h1><p>Body text here.</p>"
    assert sections_of(page, "x.html") == [("Hello\n\nBody text here.", {"section": "Hello", "heading": "Hello"})]


def test_html_consecutive_headings_share_a_section():
    sections = sections_of(b"<h1>A</h1><h2>B</h2><p>text</p><h2>C</h2><p>more</p>", "x.html")
    assert sections == [
        ("A\n\nB\n\ntext", {"section": "A > B", "heading": "B"}), ("C\n\nmore", {"section": "A > C", "heading": "C"}),
    ]


def test_html_with_only_script_is_empty():
    with pytest.raises(EmptyDocument):
        extract(b"<html><script>document.write('hi')</script></html>", name="x.html")
