"""Turn a file's bytes into text sections: a registry of extractors, one module per format.

Each format is an :class:`Extractor` subclass that declares its name, extensions,
content types and version (see ``base.py``). The built-ins are listed in
``BUILTIN_EXTRACTORS``; ``DJANGO_RAG["EXTRACTORS"]`` adds a site's own by dotted path,
a site's extractor replacing the built-in of the same ``format``. Everything that needs
to know the formats (upload checks, the API's content types, ``rag_ingest``'s file
walk, the upload form's hint) asks this module.
"""

from __future__ import annotations

from functools import cache
from pathlib import PurePath
from typing import Any

from ...exceptions import EmptyDocument, RAGImproperlyConfigured, UnsupportedFileType
from .base import Extracted, Extractor, Limits, Section, clean_section, decode_text, too_long
from .markdown import extract_markdown, markdown_title
from .pdf import extract_pdf, pdf_title

__all__ = [
    "BUILTIN_EXTRACTORS", "EXTRACTOR_VERSION", "Extracted", "Extractor", "Limits", "Section", "clean_section",
    "content_types", "decode_text", "detect_format", "extension_map", "extract", "extract_markdown", "extract_pdf",
    "extract_text", "extractor_for", "extractors", "load_extractor", "markdown_title", "pdf_title", "text_formats",
]

#: Bumped when extraction as a whole changes (each extractor has its own ``version`` too).
#: 2: every chunk's metadata names its format and file (ingestion/pipeline.py).
EXTRACTOR_VERSION = "2"

BUILTIN_EXTRACTORS = (
    "django_rag.ingestion.extractors.pdf.PDFExtractor",
    "django_rag.ingestion.extractors.markdown.MarkdownExtractor",
    "django_rag.ingestion.extractors.html.HTMLExtractor",
    "django_rag.ingestion.extractors.docx.DocxExtractor",
    "django_rag.ingestion.extractors.csv.CSVExtractor",
    "django_rag.ingestion.extractors.text.TextExtractor",
)


def load_extractor(path: str) -> Extractor:
    """The extractor a dotted path names (a subclass of :class:`Extractor`, or an instance)."""
    from django.utils.module_loading import import_string

    try:
        found = import_string(path)
    except ImportError as exc:
        raise RAGImproperlyConfigured(f'DJANGO_RAG["EXTRACTORS"]: cannot import {path!r} ({exc}).') from exc
    if isinstance(found, type) and issubclass(found, Extractor):
        extractor = found()
    elif isinstance(found, Extractor):
        extractor = found
    else:
        raise RAGImproperlyConfigured(
            f'DJANGO_RAG["EXTRACTORS"]: {path!r} is not a subclass of django_rag.ingestion.extractors.Extractor.'
        )
    problem = declaration_problem(extractor)
    if problem:
        raise RAGImproperlyConfigured(f'DJANGO_RAG["EXTRACTORS"]: {path!r} {problem}')
    return extractor


def declaration_problem(extractor: Extractor) -> str:
    """What is wrong with an extractor's declared attributes, or ""."""
    if not isinstance(extractor.format, str) or not extractor.format.strip():
        return "declares no format (a class attribute such as format = \"epub\")."
    extensions = extractor.extensions
    if not isinstance(extensions, (tuple, list)) or not all(isinstance(e, str) for e in extensions):
        return "must declare extensions as a tuple of strings such as (\".epub\",)."
    bad = [e for e in extensions if not e.startswith(".") or e != e.lower() or len(e) < 2]
    if bad:
        return f"declares extensions that are not a lower-case dot and a name: {', '.join(map(repr, bad))}."
    types = extractor.content_types
    if not isinstance(types, (tuple, list)) or not all(isinstance(t, str) and "/" in t for t in types):
        return "must declare content_types as a tuple of MIME types such as (\"application/epub+zip\",)."
    if not isinstance(extractor.version, str) or not extractor.version:
        return "must declare a version string (bump it when its output changes)."
    if type(extractor).extract is Extractor.extract:
        return "does not implement extract(data, limits)."
    return ""


def _site_paths() -> tuple[str, ...]:
    from django.conf import settings

    if not settings.configured:  # the extraction sandbox, scripts without a project
        return ()
    from ...conf import get_setting

    paths = get_setting("EXTRACTORS") or ()
    if isinstance(paths, str) or not isinstance(paths, (list, tuple)):
        raise RAGImproperlyConfigured('DJANGO_RAG["EXTRACTORS"] must be a list of dotted paths.')
    return tuple(paths)


@cache
def _registry(paths: tuple[str, ...]) -> dict[str, Extractor]:
    from django.utils.module_loading import import_string

    registry: dict[str, Extractor] = {}
    for path in BUILTIN_EXTRACTORS:
        extractor = import_string(path)()
        registry[extractor.format] = extractor
    for path in paths:
        extractor = load_extractor(path)
        registry[extractor.format] = extractor
    return registry


def extractors() -> dict[str, Extractor]:
    """The extractors in use by format: the built-ins, then the site's (which may replace one)."""
    return _registry(_site_paths())


def extractor_for(format: str) -> Extractor:
    try:
        return extractors()[format]
    except KeyError:
        raise UnsupportedFileType(
            f"Unsupported format {format!r}. Supported: {', '.join(sorted(extractors()))}."
        ) from None


def extension_map() -> dict[str, str]:
    """``{".md": "markdown", ...}``. A site's extractor takes an extension over a built-in."""
    found: dict[str, str] = {}
    # The registry lists the built-ins first, so a site's new format claiming ".txt" wins.
    for extractor in extractors().values():
        for extension in extractor.extensions:
            found[extension] = extractor.format
    return found


def content_types() -> dict[str, str]:
    """``{"text/markdown": ".md", ...}``: the extension an upload declared as that type gets."""
    found: dict[str, str] = {}
    for extractor in extractors().values():
        for content_type in extractor.content_types:
            if extractor.extensions:
                found[content_type.lower()] = extractor.extensions[0]
    return found


def text_formats() -> tuple[str, ...]:
    """The formats that read text already in a ``str`` (Document.text, registered models)."""
    return tuple(fmt for fmt, extractor in extractors().items() if extractor.reads_text)


def detect_format(name: str, data: bytes) -> str:
    """The format of a file, from its content where that is unambiguous, else its name.

    A format whose extra is missing is refused here too (:class:`MissingDependency`), so
    that an upload fails at once, naming the extra, instead of failing later in a worker.
    """
    head = data[:1024]
    registry = extractors()
    for extractor in registry.values():
        if extractor.sniff(head):
            extractor.require()
            return extractor.format
    suffix = PurePath(name).suffix.lower()
    fmt = extension_map().get(suffix)
    if fmt is None:
        raise UnsupportedFileType(
            f"Unsupported file type {suffix or '(no extension)'!r} for {PurePath(name).name!r}. "
            f"Supported: {', '.join(sorted(extension_map()))}."
        )
    registry[fmt].require()
    return fmt


def budget() -> Limits:
    """The extraction limits in the settings (none outside a Django project)."""
    from django.conf import settings

    if not settings.configured:
        return Limits()
    from ...conf import get_setting

    return Limits(max_pages=get_setting("MAX_PAGES"), seconds=get_setting("MAX_EXTRACT_SECONDS"))


def extract(data: bytes, *, name: str = "", format: str | None = None, max_length: int | None = None) -> Extracted:
    """Extract text sections; refuse more than ``max_length`` characters of text.

    An extractor marked ``sandboxed`` parses in a limited child process when
    ``EXTRACT_IN_SUBPROCESS`` is on (see ingestion/sandbox.py); the others parse here.
    """
    fmt = format or detect_format(name, data)
    extractor = extractor_for(fmt)
    extractor.require()
    if not data.strip():
        raise EmptyDocument("The file is empty.")
    limits = budget()
    limits = Limits(max_length=max_length, max_pages=limits.max_pages, seconds=limits.seconds)
    if extractor.sandboxed and _in_subprocess():
        from ...conf import get_setting
        from ..sandbox import extract_in_subprocess

        extracted = extract_in_subprocess(
            data, extractor=f"{type(extractor).__module__}.{type(extractor).__qualname__}", format=fmt,
            max_length=max_length, max_pages=limits.max_pages, seconds=limits.seconds or get_setting("MAX_EXTRACT_SECONDS"),
            memory_mb=get_setting("MAX_EXTRACT_MEMORY_MB"),
        )
    else:
        extracted = extractor.extract(data, limits)
    extracted.format = fmt
    extracted.sections = [s for s in (clean_section(s) for s in extracted.sections) if s.text.strip()]
    if not extracted.sections:
        raise EmptyDocument(
            "No text could be extracted"
            + (" (a scanned PDF needs OCR, which django-rag does not do)." if fmt == "pdf" else ".")
        )
    if max_length is not None and extracted.length > max_length:
        raise too_long(extracted.length, max_length)
    return extracted


def _in_subprocess() -> bool:
    from django.conf import settings

    if not settings.configured:
        return False
    from ...conf import get_setting

    return bool(get_setting("EXTRACT_IN_SUBPROCESS"))


def extract_pdf_within_budget(data: bytes, *, max_length: int | None = None) -> Extracted:
    """``extract_pdf`` under the extraction budget settings (kept for callers of the old module)."""
    return extract(data, format="pdf", max_length=max_length)


def extract_text(text: str, *, format: str = "markdown") -> Extracted:
    """Extract sections from text that is already a ``str`` (a document's ``text`` field)."""
    return extract(text.encode("utf-8"), format=format)


def signature_of(format: str | None) -> Any:
    """The extractor part of an ingestion signature: the package's and the format's version."""
    if format is None:
        return EXTRACTOR_VERSION
    extractor = extractors().get(format)
    return [EXTRACTOR_VERSION, extractor.signature() if extractor is not None else format]
