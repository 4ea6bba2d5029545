"""Real Word files, built with python-docx, and the broken and hostile ones a site gets.

Each function returns the bytes of a file; the zip-level ones start from a real .docx
and change what a crafted or damaged file would change.
"""

from __future__ import annotations

import io
import struct
import zipfile

import docx
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

MAIN = "word/document.xml"


def save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def handbook(*, title: str = "") -> bytes:
    """Headings (Title, 1, 2), a table, a hard page break, body text on two pages."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Staff handbook", 0)
    document.add_heading("Leave", 1)
    document.add_paragraph("Employees get twenty days of paid parental leave.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Kind", "Days"), ("Parental", "20"), ("Sick", "10")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.add_paragraph("Leave is booked with form B.").add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("Expenses", 1)
    document.add_heading("Receipts", 2)
    document.add_paragraph("Receipts are due within thirty days; the cafe budget is separate.")
    return save(document)


def rendered_pages(pages: list[str]) -> bytes:
    """Paragraphs as Word lays them out: a ``w:lastRenderedPageBreak`` where each page
    after the first begins."""
    document = docx.Document()
    for number, text in enumerate(pages):
        paragraph = document.add_paragraph()
        run = paragraph.add_run()
        if number:
            run._r.append(OxmlElement("w:lastRenderedPageBreak"))
        run.add_text(text)
    return save(document)


def in_content_control_and_nested_table() -> bytes:
    """Body text inside a content control (w:sdt), and a table inside a table cell."""
    document = docx.Document()
    document.add_paragraph("Before the control.")
    inside = document.add_paragraph("Inside the content control.")
    sdt, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    inside._p.addprevious(sdt)
    sdt.append(content)
    content.append(inside._p)
    outer = document.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "Outer"
    outer.cell(0, 1).add_table(rows=1, cols=1).cell(0, 0).text = "Nested cell"
    return save(document)


def styled_headings() -> bytes:
    """A table of contents (TOC styles), a custom style based on Heading 1, and a
    paragraph that is a heading only by its outline level."""
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    toc = document.styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
    chapter = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 1"]
    document.add_paragraph("Leave ........ 2", style=toc)
    document.add_paragraph("Leave", style=chapter)
    document.add_paragraph("Twenty days.")
    outlined = document.add_paragraph("Booking")
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "1")
    outlined._p.get_or_add_pPr().append(level)
    document.add_paragraph("Ask HR first.")
    return save(document)


def rezip(data: bytes, *, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    """The same package with some parts replaced or left out."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
    return out.getvalue()


def zip_bomb(inflated_bytes: int) -> bytes:
    """A real .docx whose document.xml holds ``inflated_bytes`` of white space between two
    elements (valid XML), deflated to a tiny fraction of that."""
    data = handbook()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        xml = source.read(MAIN)
    head, _, tail = xml.partition(b"<w:body>")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != MAIN:
                target.writestr(info.filename, source.read(info.filename))
                continue
            with target.open(MAIN, "w", force_zip64=True) as stream:
                stream.write(head + b"<w:body>")
                block = b" " * (8 * 1024 * 1024)
                left = inflated_bytes
                while left > 0:
                    stream.write(block[: min(left, len(block))])
                    left -= len(block)
                stream.write(tail)
    return out.getvalue()


def understated(data: bytes, name: str = MAIN, *, claimed: int = 2000) -> bytes:
    """The archive with ``name``'s inflated size claimed to be ``claimed`` bytes, in its
    local header and in the central directory (a bomb that lies about its size)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    patched = bytearray(data)
    encoded = name.encode()
    local = info.header_offset
    assert patched[local : local + 4] == b"PK\x03\x04"
    _set_size(patched, local + 22, local + 30, claimed)
    position = 0
    while True:  # the central directory entry of `name`
        central = patched.index(b"PK\x01\x02", position)
        length = struct.unpack_from("<H", patched, central + 28)[0]
        if bytes(patched[central + 46 : central + 46 + length]) == encoded:
            break
        position = central + 4
    _set_size(patched, central + 24, central + 46, claimed, name_length=length,
              extra_length=struct.unpack_from("<H", patched, central + 30)[0])
    return bytes(patched)


def _set_size(data: bytearray, size_at: int, name_at: int, claimed: int, *, name_length: int | None = None,
              extra_length: int | None = None) -> None:
    """Write the inflated size at ``size_at``, or in the zip64 extra field when it says 0xFFFFFFFF."""
    if struct.unpack_from("<I", data, size_at)[0] != 0xFFFFFFFF:
        struct.pack_into("<I", data, size_at, claimed)
        return
    if name_length is None:  # a local header: the lengths follow the sizes
        name_length, extra_length = struct.unpack_from("<HH", data, size_at + 4)
    extra = name_at + name_length
    end = extra + extra_length
    while extra < end:
        tag, size = struct.unpack_from("<HH", data, extra)
        if tag == 1:  # zip64: the inflated size comes first
            struct.pack_into("<Q", data, extra + 4, claimed)
            return
        extra += 4 + size
    raise AssertionError("no zip64 extra field")


def truncated(data: bytes) -> bytes:
    """The first two thirds of a file: an upload cut short."""
    return data[: len(data) * 2 // 3]


def with_main_part_of_type(data: bytes, content_type: str) -> bytes:
    """A package whose main part says it is something else (a spreadsheet renamed .docx)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types = archive.read("[Content_Types].xml")
    word = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    assert word in types
    return rezip(data, replace={"[Content_Types].xml": types.replace(word, content_type.encode())})

