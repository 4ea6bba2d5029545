"""Word (.docx), with python-docx: headings become the section path, tables text rows,
and page breaks Word recorded become ``page`` metadata.

A .docx is a zip of XML parts, so a crafted one can inflate far beyond its size: the
declared sizes are checked before anything is parsed, and parsing runs in the limited
child process like PDFs (``sandboxed``).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from ...exceptions import CorruptFile, EncryptedFile, FileTooLarge
from .base import Extracted, Extractor, Limits, Section, clip_title, too_long
from .pdf import PLACEHOLDER_TITLES

# An OLE compound file: an encrypted .docx (Word wraps those in one) or an old binary .doc.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What the parts of one document may expand to (images included: python-docx holds
# every part in memory).
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocxExtractor(Extractor):
    format = "docx"
    label = "Word"
    extensions = (".docx",)
    content_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    version = "1"
    requires = ("docx",)
    package, extra = "python-docx", "docx"
    sandboxed = True

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        document = _open(data)
        try:
            return _read(document, limits)
        except (FileTooLarge, MemoryError):
            raise
        except Exception as exc:  # python-docx and lxml raise assorted errors on odd files
            raise CorruptFile(f"The Word file could not be read ({type(exc).__name__}: {exc}).") from exc


def _open(data: bytes) -> Any:
    if data.startswith(_OLE_MAGIC):
        raise EncryptedFile(
            "The file is not a plain .docx: it is password-protected, or an old Word 97-2003 .doc "
            "renamed. Save it from Word as a .docx without a password."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        with archive:
            parts = archive.infolist()
            names = {part.filename for part in parts}
            unzipped = sum(part.file_size for part in parts)
    except zipfile.BadZipFile as exc:
        raise CorruptFile(f"The Word file could not be read; it is not a .docx or it is damaged or truncated ({exc}).") from exc
    if "word/document.xml" not in names:
        raise CorruptFile("The file is a zip archive but not a Word document (it has no word/document.xml).")
    if unzipped > MAX_UNZIPPED_BYTES:
        raise FileTooLarge(
            f"The Word file expands to {unzipped:,} bytes; the most a document may expand to is {MAX_UNZIPPED_BYTES:,}."
        )
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CorruptFile(f"The Word file could not be read; it may be damaged ({type(exc).__name__}: {exc}).") from exc
    except Exception as exc:
        raise CorruptFile(f"The Word file could not be read ({type(exc).__name__}: {exc}).") from exc


def _heading_level(paragraph: Any) -> int | None:
    """1-9 for "Heading N" (or an outline level), 0 for "Title", None for body text."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style  # a custom "Chapter" style based on "Heading 1" is a heading
    outline = paragraph._p.find(f"{_W}pPr/{_W}outlineLvl")
    if outline is not None:
        try:
            level = int(outline.get(f"{_W}val"))
        except (TypeError, ValueError):
            return None
        return level + 1 if 0 <= level < 9 else None  # 9 is "body text"
    return None


def _pieces(paragraph: Any, rendered: bool) -> list[str]:
    """The paragraph's text, cut where a page ends: one piece per page it spans.

    Word writes ``w:lastRenderedPageBreak`` where its layout last began a page; files
    that were never laid out by Word (generated ones) only have hard breaks
    (``w:br w:type="page"``) and "page break before" paragraphs.
    """
    pieces = [""]
    if not rendered and paragraph.paragraph_format.page_break_before:
        pieces.append("")
    for element in paragraph._p.iter():
        tag = element.tag
        if tag == f"{_W}t":
            pieces[-1] += element.text or ""
        elif tag == f"{_W}tab":
            pieces[-1] += "\t"
        elif tag in (f"{_W}br", f"{_W}cr"):
            if element.get(f"{_W}type") == "page":
                if not rendered:
                    pieces.append("")
            else:
                pieces[-1] += "\n"
        elif tag == f"{_W}lastRenderedPageBreak" and rendered:
            pieces.append("")
    return pieces


def _table_rows(table: Any) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _read(document: Any, limits: Limits) -> Extracted:
    from docx.table import Table

    body = document.element.body
    rendered = body.find(f".//{_W}lastRenderedPageBreak") is not None
    has_pages = rendered or body.find(f".//{_W}br[@{_W}type='page']") is not None or (
        body.find(f".//{_W}pageBreakBefore") is not None
    )
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    has_body = False
    page = 1
    length = 0
    first_heading: dict[int, str] = {}

    def flush() -> None:
        nonlocal length
        text = "\n".join(lines).strip()
        lines.clear()
        if not text:
            return
        meta: dict[str, Any] = {}
        if path:
            meta["section"] = " > ".join(title for _, title in path)
        if has_pages:
            meta["page"] = page
        sections.append(Section(text, meta))
        length += len(text)
        if limits.max_length is not None and length > limits.max_length:
            raise too_long(limits.max_length, limits.max_length, at_least=True)

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = _table_rows(block)
            if rows:
                lines.extend(["", *rows, ""])  # a table is a block of its own
                has_body = True
            continue
        pieces = _pieces(block, rendered)
        level = _heading_level(block)
        for number, piece in enumerate(pieces):
            if number:  # a page ends here
                flush()
                has_body = False
                page += 1
            text = piece.strip()
            if not text:
                continue
            if level is not None and number == 0:
                # As in Markdown: a heading right after a heading stays with the next
                # section's text rather than leaving a section that is only a title.
                if has_body:
                    flush()
                    has_body = False
                title = " ".join(text.split())
                first_heading.setdefault(level, title)
                path[:] = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
                lines.extend(["", text])
            else:
                lines.append(text)
                has_body = True
    flush()
    metadata: dict[str, Any] = {}
    if has_pages:
        metadata["pages"] = page
    title = clip_title(document.core_properties.title)
    if not title or PLACEHOLDER_TITLES.match(title):
        title = first_heading.get(0) or first_heading.get(1) or (first_heading[min(first_heading)] if first_heading else "")
    if title:
        metadata["title"] = clip_title(title)
    return Extracted("docx", sections, metadata)
