"""Word (.docx), with python-docx: headings become the section path, tables text rows,
and page breaks Word recorded become ``page`` metadata.

A .docx is a zip of XML parts, so a crafted one can inflate far beyond its size. Before
python-docx sees it, every part is read here in bounded steps, against the sizes the
archive declares and a budget for all of them (:func:`_unpack`), and python-docx gets
those bytes repacked uncompressed: it never inflates anything itself. Parsing also runs
in the limited child process, as PDFs do (``sandboxed``).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

from ...exceptions import CorruptFile, EncryptedFile, FileTooLarge
from .base import Extracted, Extractor, Limits, Section, clip_title, heading_metadata, too_long
from .pdf import PLACEHOLDER_TITLES

# An OLE compound file: an encrypted .docx (Word wraps those in one) or an old binary .doc.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_TOC_STYLE = re.compile(r"^toc\s*(heading|[1-9])?$", re.IGNORECASE)  # Word's "TOC 1"... styles

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# Body elements whose content is the document's, one level down: content controls
# (cover pages and whole templates live in them), custom XML, tracked insertions.
_WRAPPERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins", f"{_W}smartTag"}

_READ_STEP = 1024 * 1024
# What reading a damaged part raises: a bad CRC or header, a truncated or invalid
# deflate stream, an unsupported compression method or an encrypted entry.
_UNREADABLE = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError, struct.error,
)


class DocxExtractor(Extractor):
    format = "docx"
    label = "Word"
    extensions = (".docx",)
    content_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    version = "1"
    requires = ("docx",)
    package, extra = "python-docx", "docx"
    sandboxed = True
    #: What the XML parts of one document may expand to, all together. python-docx
    #: holds each parsed part in memory, at several times its size; a long report's
    #: document.xml is a few MB, so this refuses only crafted files (or freak ones: a
    #: site can subclass with a larger budget, registered under the same format).
    max_xml_bytes = 128 * 1024 * 1024
    #: Parts that are not XML (images, embedded files, fonts) are never read: their
    #: declared sizes only have to add up to no more than this.
    max_declared_bytes = 2 * 1024 * 1024 * 1024

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        document = _open(_unpack(data, self.max_xml_bytes, self.max_declared_bytes))
        try:
            return _read(document, limits)
        except (FileTooLarge, MemoryError):
            raise
        except Exception as exc:  # python-docx and lxml raise assorted errors on odd files
            raise CorruptFile(f"The Word file could not be read ({type(exc).__name__}: {exc}).") from exc


def _unpack(data: bytes, max_xml_bytes: int, max_declared_bytes: int) -> io.BytesIO:
    """The package repacked uncompressed: XML parts as they are, other parts empty.

    Each XML part is read ``_READ_STEP`` bytes at a time, so inflating never produces
    more than one step beyond what is kept; zipfile stops a part at its declared size,
    so a part that claims less than it inflates to is cut there (and then fails to
    parse, or its CRC check), never read whole. The declared sizes are summed first,
    so an honest bomb is refused before a byte is inflated.
    """
    if data.startswith(_OLE_MAGIC):
        raise EncryptedFile(
            "The file is not a plain .docx: it is password-protected, or an old Word 97-2003 .doc "
            "renamed. Save it from Word as a .docx without a password."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, struct.error) as exc:
        raise CorruptFile(
            f"The Word file could not be read; it is not a .docx, or it is damaged or truncated ({exc})."
        ) from exc
    with archive:
        # The last entry of a name is the one zipfile (and so python-docx) reads.
        parts = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        if "[Content_Types].xml" not in parts:
            raise CorruptFile("The file is a zip archive but not a Word document (it has no [Content_Types].xml).")
        xml_parts = _xml_part_names(archive, parts)
        declared_xml = sum(parts[name].file_size for name in xml_parts)
        declared = sum(info.file_size for info in parts.values())
        if declared_xml > max_xml_bytes or declared > max_declared_bytes:
            raise FileTooLarge(
                f"The Word file expands to {declared_xml:,} bytes of XML ({declared:,} bytes in all); "
                f"the most a document may expand to is {max_xml_bytes:,} bytes of XML. "
                "It may be a zip bomb, or a document too large to index."
            )
        repacked = io.BytesIO()
        read = 0
        with zipfile.ZipFile(repacked, "w", zipfile.ZIP_STORED) as out:
            for name, info in parts.items():
                if name not in xml_parts:
                    out.writestr(name, b"")  # python-docx loads images and the like, never looks inside
                    continue
                try:
                    with archive.open(info) as stream, out.open(name, "w") as copy:
                        while piece := stream.read(_READ_STEP):
                            read += len(piece)
                            if read > max_xml_bytes:  # zipfile stops at the declared sizes; a guard all the same
                                raise FileTooLarge(f"The Word file expands to more than {max_xml_bytes:,} bytes of XML.")
                            copy.write(piece)
                except _UNREADABLE as exc:
                    raise CorruptFile(f"The Word file is damaged: its part {name!r} cannot be read ({exc}).") from exc
    repacked.seek(0)
    return repacked


def _xml_part_names(archive: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo]) -> set[str]:
    """The parts that hold XML, by [Content_Types].xml (read within a small budget of its own)."""
    info = parts["[Content_Types].xml"]
    if info.file_size > 1024 * 1024:
        raise FileTooLarge(f"The Word file's [Content_Types].xml declares {info.file_size:,} bytes; it is a few hundred.")
    try:
        with archive.open(info) as stream:
            root = ElementTree.fromstring(stream.read(1024 * 1024 + 1))
    except (*_UNREADABLE, ElementTree.ParseError) as exc:
        raise CorruptFile(f"The Word file is damaged: its [Content_Types].xml cannot be read ({exc}).") from exc
    defaults = {
        (element.get("Extension") or "").lower(): element.get("ContentType") or ""
        for element in root.iter(f"{_CONTENT_TYPES}Default")
    }
    overrides = {
        (element.get("PartName") or "").lstrip("/"): element.get("ContentType") or ""
        for element in root.iter(f"{_CONTENT_TYPES}Override")
    }
    names = set()
    for name in parts:
        content_type = overrides.get(name) or defaults.get(name.rpartition(".")[2].lower(), "")
        if name == "[Content_Types].xml" or name.endswith(".rels") or content_type.endswith("xml"):
            names.add(name)
    return names


def _open(package: io.BytesIO) -> Any:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(package)
    except ValueError as exc:
        # python-docx names the stream object in its message; the content type is what matters.
        if "is not a Word file, content type is" in str(exc):
            kind = str(exc).rpartition("content type is ")[2].strip("'")
            raise CorruptFile(
                f"The file is an Office package but not a Word document (its main part is {kind!r}). "
                "Upload a .docx saved by Word."
            ) from exc
        raise CorruptFile(f"The Word file could not be read; it may be damaged ({type(exc).__name__}: {exc}).") from exc
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile) as exc:
        # ValueError: a package of another kind ("... is not a Word file, content type is
        # '...spreadsheetml...'"), or XML that does not parse.
        raise CorruptFile(f"The Word file could not be read; it may be damaged ({type(exc).__name__}: {exc}).") from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptFile(f"The Word file could not be read ({type(exc).__name__}: {exc}).") from exc


class _Styles:
    """What each paragraph style makes of a paragraph: a heading level, a table of contents.

    Read from styles.xml once: python-docx's ``paragraph.style`` scans every style of
    the document for each paragraph (three seconds for a 200-section report).
    """

    def __init__(self, document: Any) -> None:
        self.styles: dict[str, tuple[str, str | None]] = {}
        self.default: str | None = None
        try:
            root = document.styles.element
        except Exception:  # a package without a styles part: every paragraph is body text
            return
        for style in root.iterchildren(f"{_W}style"):
            if style.get(f"{_W}type", "paragraph") != "paragraph":
                continue
            style_id = style.get(f"{_W}styleId") or ""
            name, based_on = style.find(f"{_W}name"), style.find(f"{_W}basedOn")
            self.styles[style_id] = (
                (name.get(f"{_W}val") or "").strip() if name is not None else "",
                based_on.get(f"{_W}val") if based_on is not None else None,
            )
            if style.get(f"{_W}default") in ("1", "true", "on"):
                self.default = style_id
        self.kinds: dict[str | None, tuple[int | None, bool]] = {}

    def kind(self, p: Any) -> tuple[int | None, bool]:
        """``(heading level, is a table of contents entry)`` of the paragraph ``p`` (a w:p)."""
        reference = p.find(f"{_W}pPr/{_W}pStyle")
        style_id = reference.get(f"{_W}val") if reference is not None else self.default
        if style_id not in self.kinds:
            self.kinds[style_id] = self._classify(style_id)
        level, toc = self.kinds[style_id]
        if level is None:
            level = _outline_level(p)
        return level, toc

    def _classify(self, style_id: str | None) -> tuple[int | None, bool]:
        # 1-9 for "Heading N", 0 for "Title", through the styles it is based on: a custom
        # "Chapter" style based on "Heading 1" is a heading. A loop of styles ends at 16.
        for _ in range(16):
            if style_id is None or style_id not in self.styles:
                return None, False
            name, style_id = self.styles[style_id]
            if name.lower() == "title":
                return 0, False
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1)), False
            if _TOC_STYLE.match(name):
                # A table of contents repeats every heading with a page number: noise in a chunk.
                return None, True
        return None, False


def _outline_level(p: Any) -> int | None:
    outline = p.find(f"{_W}pPr/{_W}outlineLvl")
    if outline is None:
        return None
    try:
        level = int(outline.get(f"{_W}val"))
    except (TypeError, ValueError):
        return None
    return level + 1 if 0 <= level < 9 else None  # 9 is "body text"


def _on(element: Any) -> bool:
    """Whether a w:pageBreakBefore-like toggle is set (absent: no; ``w:val="0"``: no)."""
    return element is not None and element.get(f"{_W}val", "1") not in ("0", "false", "off")


def _walk(element: Any) -> Iterator[Any]:
    """``element`` and its descendants in document order, without the fallback copies
    of text boxes (``mc:Fallback`` repeats the ``mc:Choice`` content for old readers)."""
    yield element
    for child in element:
        if child.tag != _MC_FALLBACK:
            yield from _walk(child)


def _pieces(p: Any, rendered: bool) -> list[str]:
    """The paragraph's text, cut where a page ends: one piece per page it spans.

    Word writes ``w:lastRenderedPageBreak`` where its layout last began a page; files
    that were never laid out by Word (generated ones) only have hard breaks
    (``w:br w:type="page"``) and "page break before" paragraphs.
    """
    pieces = [""]
    if not rendered and _on(p.find(f"{_W}pPr/{_W}pageBreakBefore")):
        pieces.append("")
    for element in _walk(p):
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


def _cell_text(tc: Any) -> str:
    # Every paragraph of the cell, those of a table nested in it too (python-docx's
    # cell.text leaves nested tables out).
    paragraphs = ("".join(t.text or "" for t in _walk(p) if t.tag == f"{_W}t") for p in tc.iter(f"{_W}p"))
    return " ".join(" ".join(paragraphs).split())


def _table_rows(tbl: Any) -> list[str]:
    rows = []
    for tr in tbl.iterchildren(f"{_W}tr"):
        # A cell merged across columns is one w:tc; one merged down the rows
        # (w:vMerge) repeats empty below its first row.
        cells = [_cell_text(tc) for tc in tr.iterchildren(f"{_W}tc")]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _page_breaks(element: Any, rendered: bool) -> int:
    if rendered:
        return sum(1 for e in _walk(element) if e.tag == f"{_W}lastRenderedPageBreak")
    return sum(1 for e in _walk(element) if e.tag == f"{_W}br" and e.get(f"{_W}type") == "page")


def _blocks(parent: Any) -> Iterator[Any]:
    """The body's paragraphs and tables in order, those inside content controls too."""
    for child in parent.iterchildren():
        if child.tag in (f"{_W}p", f"{_W}tbl"):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _blocks(child)


def _read(document: Any, limits: Limits) -> Extracted:
    body = document.element.body
    styles = _Styles(document)
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
        meta: dict[str, Any] = heading_metadata([title for _, title in path])
        if has_pages:
            meta["page"] = page
        sections.append(Section(text, meta))
        length += len(text)
        if limits.max_length is not None and length > limits.max_length:
            raise too_long(limits.max_length, limits.max_length, at_least=True)

    for block in _blocks(body):
        if block.tag == f"{_W}tbl":
            rows = _table_rows(block)
            if rows:
                lines.extend(["", *rows, ""])  # a table is a block of its own
                has_body = True
            # A table that runs over pages: its rows stay together, on the page it
            # begins on; what follows it is on the page it ends on.
            breaks = _page_breaks(block, rendered)
            if breaks:
                flush()
                has_body = False
                page += breaks
            continue
        level, toc = styles.kind(block)
        if toc:
            continue
        pieces = _pieces(block, rendered)
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
