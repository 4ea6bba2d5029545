"""Turn a file's bytes into text sections with page and section metadata.

Each extractor returns :class:`Section` objects; the splitter then cuts each section
into chunks that inherit its metadata (``page`` for PDFs, ``section`` for the heading
path in Markdown and HTML). Every failure is an :class:`~django_rag.exceptions.IngestionError`
subclass with a message fit for the person who uploaded the file.
"""

from __future__ import annotations

import codecs
import io
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

from ..exceptions import (
    BinaryContent,
    CorruptFile,
    EmptyDocument,
    EncryptedFile,
    ExtractionLimitExceeded,
    FileTooLarge,
    UnsupportedFileType,
)

#: Bumped when extraction changes in a way that should re-ingest unchanged files.
EXTRACTOR_VERSION = "1"


@dataclass
class Section:
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Extracted:
    format: str
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return sum(len(s.text) for s in self.sections)


FORMATS_BY_EXTENSION = {
    ".pdf": "pdf",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".csv": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}

SUPPORTED_FORMATS = ("pdf", "text", "markdown", "html")


def detect_format(name: str, data: bytes) -> str:
    """The format of a file, from its content where that is unambiguous, else its name."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    suffix = PurePath(name).suffix.lower()
    if suffix in FORMATS_BY_EXTENSION:
        return FORMATS_BY_EXTENSION[suffix]
    raise UnsupportedFileType(
        f"Unsupported file type {suffix or '(no extension)'!r} for {PurePath(name).name!r}. "
        f"Supported: {', '.join(sorted(FORMATS_BY_EXTENSION))}."
    )


def extract(data: bytes, *, name: str = "", format: str | None = None, max_length: int | None = None) -> Extracted:
    """Extract text sections; refuse more than ``max_length`` characters of text."""
    fmt = format or detect_format(name, data)
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedFileType(f"Unsupported format {fmt!r}. Supported: {', '.join(SUPPORTED_FORMATS)}.")
    if not data.strip():
        raise EmptyDocument("The file is empty.")
    if fmt == "pdf":
        extracted = extract_pdf_within_budget(data, max_length=max_length)
    else:
        text, encoding = decode_text(data)
        title = ""
        if fmt == "html":
            sections, title = _extract_html(text)
        elif fmt == "markdown":
            sections = extract_markdown(text)
            title = markdown_title(text)
        else:
            sections = [Section(text)]
        extracted = Extracted(fmt, sections, {"encoding": encoding})
        if title:
            extracted.metadata["title"] = title
    extracted.sections = [s for s in (clean_section(s) for s in extracted.sections) if s.text.strip()]
    if not extracted.sections:
        raise EmptyDocument(
            "No text could be extracted"
            + (" (a scanned PDF needs OCR, which django-rag does not do)." if fmt == "pdf" else ".")
        )
    if max_length is not None and extracted.length > max_length:
        raise _too_long(extracted.length, max_length)
    return extracted


def _too_long(length: int, limit: int, *, at_least: bool = False) -> FileTooLarge:
    return FileTooLarge(
        f"The document has {'more than ' if at_least else ''}{length:,} characters of text; "
        f"the limit is {limit:,} (DJANGO_RAG['MAX_TEXT_LENGTH'])."
    )


def extract_text(text: str, *, format: str = "markdown") -> Extracted:
    """Extract sections from text that is already a ``str`` (a document's ``text`` field)."""
    return extract(text.encode("utf-8"), format=format)


# --- text and encodings -------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes that never appear in real text files (all C0 controls but tab, LF, FF, CR, ESC).
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13, 27})


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text of an unknown encoding; refuse binary data posing as text.

    Order: a byte-order mark decides; then strict UTF-8; then Windows-1252, which is
    what "text in an unexpected encoding" usually is; Latin-1 last, since it decodes
    anything. Binary data is caught first by its NUL and control bytes.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise CorruptFile(f"The file starts with a {encoding} byte-order mark but is not valid {encoding}.") from exc
    sample = data[:65536]
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    if b"\x00" in sample or controls > max(8, len(sample) // 100):
        raise BinaryContent(
            "The file looks like binary data, not text (it contains NUL or control bytes). "
            "Upload a PDF, text, Markdown or HTML file."
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


_NUL_AND_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def clean_section(section: Section) -> Section:
    # PostgreSQL text cannot hold NUL, and PDF extraction leaves control characters and
    # long runs of blank lines that only waste chunk space.
    text = _NUL_AND_CONTROLS.sub(" ", section.text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    # Heading paths come from the same text (a UTF-16 file skips the binary check), and
    # jsonb refuses \u0000 just as text columns refuse NUL.
    metadata = {
        key: " ".join(_NUL_AND_CONTROLS.sub(" ", value).split()) if isinstance(value, str) else value
        for key, value in section.metadata.items()
    }
    return Section(text, metadata)


# --- PDF ----------------------------------------------------------------------------


def extract_pdf_within_budget(data: bytes, *, max_length: int | None = None) -> Extracted:
    """``extract_pdf`` under the extraction budget settings (see ingestion/sandbox.py).

    ``MAX_PAGES`` caps the pages read; ``MAX_EXTRACT_SECONDS`` and ``MAX_EXTRACT_MEMORY_MB``
    bound a child process that does the parsing (``EXTRACT_IN_SUBPROCESS``). Without the
    child, the time budget is checked between pages, which bounds many small pages but
    not one enormous one.
    """
    from ..conf import get_setting

    max_pages = get_setting("MAX_PAGES")
    seconds = get_setting("MAX_EXTRACT_SECONDS")
    if get_setting("EXTRACT_IN_SUBPROCESS"):
        from .sandbox import extract_in_subprocess

        return extract_in_subprocess(
            data, format="pdf", max_length=max_length, max_pages=max_pages, seconds=seconds,
            memory_mb=get_setting("MAX_EXTRACT_MEMORY_MB"),
        )
    return extract_pdf(data, max_length=max_length, max_pages=max_pages, seconds=seconds)


def extract_pdf(
    data: bytes, *, max_length: int | None = None, max_pages: int | None = None, seconds: float | None = None
) -> Extracted:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

    # pypdf logs every recoverable oddity of a malformed file as a warning; the outcome
    # is reported on the document instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password (only printing or
            # copying is restricted); those open without asking anyone.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise EncryptedFile(f"The PDF is encrypted with a scheme that cannot be opened here: {exc}") from exc
            if not opened:
                raise EncryptedFile("The PDF is password-protected. Upload a copy without a password.")
        page_count = len(reader.pages)
        if max_pages is not None and page_count > max_pages:
            raise FileTooLarge(
                f"The PDF has {page_count:,} pages; the limit is {max_pages:,} (DJANGO_RAG['MAX_PAGES'])."
            )
        deadline = None if seconds is None else time.monotonic() + seconds
        sections = []
        length = 0
        for number, page in enumerate(reader.pages, start=1):
            if deadline is not None and time.monotonic() > deadline:
                raise ExtractionLimitExceeded(
                    f"Extraction took longer than {seconds:g} s (DJANGO_RAG['MAX_EXTRACT_SECONDS']) "
                    f"and was stopped at page {number} of {page_count}."
                )
            text = page.extract_text() or ""
            length += len(text)
            # Stop at the limit instead of after the last page: a small PDF can repeat one
            # content stream on thousands of pages and expand to gigabytes of text.
            if max_length is not None and length > max_length:
                raise _too_long(max_length, max_length, at_least=True)
            sections.append(Section(text, {"page": number}))
    except (EncryptedFile, EmptyDocument, FileTooLarge, ExtractionLimitExceeded, MemoryError):
        raise
    except FileNotDecryptedError as exc:
        raise EncryptedFile("The PDF is password-protected. Upload a copy without a password.") from exc
    except (PdfReadError, PdfStreamError) as exc:
        raise CorruptFile(f"The PDF could not be read; it may be damaged or truncated ({exc}).") from exc
    except Exception as exc:  # pypdf raises assorted errors on malformed input
        raise CorruptFile(
            f"The PDF could not be read; it may be damaged or truncated ({type(exc).__name__}: {exc})."
        ) from exc
    metadata: dict[str, Any] = {"pages": page_count}
    title = pdf_title(reader)
    if title:
        metadata["title"] = title
    return Extracted("pdf", sections, metadata)


#: Titles that PDF writers put in the metadata when the author gave none.
_PLACEHOLDER_TITLES = re.compile(r"^(untitled|document\d*|microsoft word - .*|.*\.(docx?|pdf|odt|tex))$", re.IGNORECASE)


def pdf_title(reader: Any) -> str:
    """The title in a PDF's document information, unless it is missing or a placeholder."""
    try:
        info = reader.metadata
        title = info.get("/Title") if info else None
    except Exception:  # a damaged information dictionary costs the title, not the document
        return ""
    title = " ".join(str(title or "").split())
    return "" if _PLACEHOLDER_TITLES.match(title) else title[:500]


# --- Markdown -----------------------------------------------------------------------

# CommonMark: up to three spaces of indent; a closing run of #s only counts after a
# space, so "# Learning C#" keeps its "#".
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def extract_markdown(text: str) -> list[Section]:
    """One section per heading, with the heading path ("Install > Requirements") as ``section``.

    A heading directly followed by another heading has no text of its own; it stays in
    the text of the next section instead of becoming a chunk that holds only a title.
    """
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    has_body = False
    fence: str | None = None  # the opening fence ("```", "~~~~") while inside a code block

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            meta = {"section": " > ".join(title for _, title in path)} if path else {}
            sections.append(Section(body, meta))
        lines.clear()

    for line in text.splitlines():
        fence_match = _FENCE.match(line)
        if fence is None and fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
            fence = fence_match.group(1)
        elif (
            fence is not None
            and fence_match
            and fence_match.group(1)[0] == fence[0]
            and len(fence_match.group(1)) >= len(fence)
            and not fence_match.group(2).strip()
        ):
            # A closing fence uses the opening's character, at least as many times, and
            # nothing else: "```" inside a "````" block is code, not the end of it.
            fence = None
        else:
            match = None if fence is not None else _ATX_HEADING.match(line)
            if match:
                if has_body:
                    flush()
                    has_body = False
                level = len(match.group(1))
                path[:] = [(lvl, title) for lvl, title in path if lvl < level]
                path.append((level, match.group(2).strip()))
                lines.append(line)  # keep the heading in the chunk text: it is often what matches
                continue
        lines.append(line)
        has_body = has_body or bool(line.strip())
    flush()
    return sections


def markdown_title(text: str) -> str:
    """The document's first level-1 heading, else its first heading ("" when it has none)."""
    from ..markdown import code_lines

    lines = text.splitlines()
    code = code_lines(lines)
    headings = [(len(m.group(1)), m.group(2).strip()) for n, m in
                ((n, _ATX_HEADING.match(line)) for n, line in enumerate(lines) if n not in code) if m]
    first_h1 = next((title for level, title in headings if level == 1), "")
    return _plain_title(first_h1 or (headings[0][1] if headings else ""))


def _plain_title(title: str) -> str:
    from ..markdown import plain_inline

    return " ".join(plain_inline(title).split())[:500]


# --- HTML ---------------------------------------------------------------------------

_SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
# What may appear inside <head>; any other start tag means the body has begun, since
# HTML lets a page leave out both </head> and <body>.
_HEAD_CONTENT = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "li", "ul", "ol",
    "table", "br", "hr", "blockquote", "pre", "dt", "dd", "dl", "figure", "figcaption", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "title", "caption",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.parts: list[str] = []
        self.has_body = False
        self.skipping: list[str] = []  # open skipped elements, innermost last
        self.heading_level = 0
        self.heading_parts: list[str] = []
        self.row_cells = 0
        self.tables = 0
        self.in_cell = False
        self.title: list[str] = []
        self.in_title = False
        self.first_headings: dict[int, str] = {}  # level: the first heading of that level

    def flush(self) -> None:
        body = re.sub(r"[ \t]+", " ", "".join(self.parts))
        body = re.sub(r" *\n *", "\n", body).strip()
        if body:
            meta = {"section": " > ".join(t for _, t in self.path)} if self.path else {}
            self.sections.append(Section(body, meta))
        self.parts = []
        self.has_body = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if self.skipping == ["head"] and (tag == "body" or tag not in _HEAD_CONTENT):
            self.skipping.clear()
        if tag == "title":
            self.in_title = True
        if tag in _SKIPPED_TAGS:
            self.skipping.append(tag)
            return
        if self.skipping:
            return
        if tag in _HEADINGS:
            # A heading right after another keeps the earlier one in its text rather
            # than leaving a section that is nothing but a title.
            if self.has_body:
                self.flush()
            self.heading_level = _HEADINGS[tag]
            self.heading_parts = []
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "table":
            self.tables += 1
        elif tag == "tr":
            # One line per row (a row ends where the next begins, so rows stay adjacent).
            self.parts.append("\n")
            self.row_cells, self.in_cell = 0, False
        elif tag in {"td", "th"}:
            # Cells of a row on one line, "Parental | 20 days", reads like the table.
            if self.row_cells:
                self.parts.append(" | ")
            self.row_cells += 1
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIPPED_TAGS:
            if tag in self.skipping:
                while self.skipping.pop() != tag:
                    pass
            return
        if self.skipping:
            return
        if tag in _HEADINGS and self.heading_level:
            title = " ".join("".join(self.heading_parts).split())
            level = self.heading_level
            self.heading_level = 0
            if title:
                self.first_headings.setdefault(level, title)
                self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        if tag == "table":
            self.tables = max(0, self.tables - 1)
        elif tag in {"td", "th"}:
            self.in_cell = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skipping:
            return
        if self.tables and not self.in_cell and not data.strip():
            return  # the indentation between <tr> and <td> tags is not text
        if self.heading_level:
            self.heading_parts.append(data)
        elif data.strip():
            self.has_body = True
        self.parts.append(data)


def extract_html(text: str) -> list[Section]:
    return _extract_html(text)[0]


def _extract_html(text: str) -> tuple[list[Section], str]:
    """The sections and the title: the first <h1>, else <title>, else the first heading."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    parser.flush()
    headings = parser.first_headings
    title = headings.get(1) or " ".join("".join(parser.title).split()) or (headings[min(headings)] if headings else "")
    return parser.sections, title[:500]
