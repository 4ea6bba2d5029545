"""Build small PDFs in code, so the tests carry no binary fixtures.

The files are written object by object with a correct cross-reference table, the way a
minimal PDF writer would, using the standard Helvetica font (which every PDF reader has
built in and pypdf can extract text from without an embedded font program).
"""

from __future__ import annotations

import io


def _escape(text: str) -> bytes:
    # WinAnsiEncoding is close to cp1252; the characters a test uses must exist in it.
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text_stream(lines: list[str]) -> bytes:
    ops = [b"BT", b"/F1 12 Tf", b"14 TL", b"72 720 Td"]
    for line in lines:
        ops.append(b"(" + _escape(line) + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


def _image_stream() -> bytes:
    # Paint image XObject /Im1 over most of the page: what a scanned page looks like.
    return b"q 468 0 0 648 72 72 cm /Im1 Do Q"


def _write(objects: list[bytes]) -> bytes:
    """Serialize objects numbered 1..n with an exact xref table and trailer."""
    out = io.BytesIO()
    # The binary comment line tells transfer tools the file is not 7-bit text.
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objects) + 1))
    out.write(b"0000000000 65535 f \n")
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def make_pdf(pages: list[list[str] | str]) -> bytes:
    """A PDF with one page per item; each item is a page's lines (or one string)."""
    pages = [[p] if isinstance(p, str) else p for p in pages]
    # 1 catalog, 2 page tree, 3 font, then a (page, content) pair per page.
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        page_number = first_page + 2 * i
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_number + 1)
        )
        objects.append(_stream(_text_stream(lines)))
    return _write(objects)


def make_image_only_pdf(pages: int = 2) -> bytes:
    """A "scanned" PDF: every page is a picture, there is no text to extract."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(pages))
    pixels = bytes(range(0, 256, 16)) * 4  # an 8x8 grey ramp
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        _stream(pixels, b" /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8"),
    ]
    for i in range(pages):
        page_number = first_page + 2 * i
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im1 3 0 R >> >> /Contents %d 0 R >>" % (page_number + 1)
        )
        objects.append(_stream(_image_stream()))
    return _write(objects)


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "owner-secret") -> bytes:
    """``data`` encrypted with RC4-128, which pypdf handles without the optional `cryptography`."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncate_pdf(data: bytes, keep: float = 0.4) -> bytes:
    """The first part of a file, as left by an interrupted upload or download."""
    return data[: int(len(data) * keep)]
