"""PDF, with pypdf: one section per page, the title from the document information."""

from __future__ import annotations

import io
import re
import time
from typing import Any

from ...exceptions import CorruptFile, EmptyDocument, EncryptedFile, ExtractionLimitExceeded, FileTooLarge
from .base import Extracted, Extractor, Limits, Section, too_long


class PDFExtractor(Extractor):
    format = "pdf"
    label = "PDF"
    extensions = (".pdf",)
    content_types = ("application/pdf",)
    version = "1"
    sandboxed = True

    def sniff(self, head: bytes) -> bool:
        return head.lstrip().startswith(b"%PDF-")

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        return extract_pdf(data, max_length=limits.max_length, max_pages=limits.max_pages, seconds=limits.seconds)


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
                raise too_long(max_length, max_length, at_least=True)
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


#: Titles that PDF (and Word) writers put in the metadata when the author gave none.
PLACEHOLDER_TITLES = re.compile(r"^(untitled|(word )?document\d*|microsoft word - .*|.*\.(docx?|pdf|odt|tex))$", re.IGNORECASE)


def pdf_title(reader: Any) -> str:
    """The title in a PDF's document information, unless it is missing or a placeholder."""
    try:
        info = reader.metadata
        title = info.get("/Title") if info else None
    except Exception:  # a damaged information dictionary costs the title, not the document
        return ""
    title = " ".join(str(title or "").split())
    return "" if PLACEHOLDER_TITLES.match(title) else title[:500]
