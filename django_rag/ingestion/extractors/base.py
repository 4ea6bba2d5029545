"""What every extractor shares: the result types, the base class, text decoding and cleaning.

An extractor turns a file's bytes into :class:`Section` objects; the splitter then cuts
each section into chunks that inherit its metadata (``page`` for PDFs, ``section`` for
the heading path). Every failure is an :class:`~django_rag.exceptions.IngestionError`
subclass with a message fit for the person who uploaded the file.

Nothing here needs a configured Django project: the extraction sandbox
(ingestion/sandbox.py) runs extractors in a bare interpreter.
"""

from __future__ import annotations

import codecs
import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...exceptions import BinaryContent, CorruptFile, FileTooLarge, MissingDependency


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


@dataclass(frozen=True)
class Limits:
    """The extraction budget of one document (see ``extract_pdf_within_budget``)."""

    max_length: int | None = None  # characters of text (MAX_TEXT_LENGTH)
    max_pages: int | None = None  # pages (MAX_PAGES), for formats that have them
    seconds: float | None = None  # checked between pages where the format has pages


class Extractor:
    """One file format. Subclass it, declare the class attributes, implement ``extract``.

    A site adds its own with ``DJANGO_RAG["EXTRACTORS"] = ["myapp.extractors.Epub"]``;
    one whose ``format`` equals a built-in's replaces that built-in.
    """

    #: The format's name, stored in Document and Chunk metadata ("docx").
    format: ClassVar[str] = ""
    #: What people call it, in messages and the upload hint ("Word").
    label: ClassVar[str] = ""
    #: File name extensions, lower case with the dot (".docx").
    extensions: ClassVar[tuple[str, ...]] = ()
    #: MIME types an upload without an extension may declare ("text/csv").
    content_types: ClassVar[tuple[str, ...]] = ()
    #: Bump it when the same file would give other sections: it is part of each
    #: document's ingestion signature, so `rag_reindex` re-ingests those documents.
    version: ClassVar[str] = "1"
    #: Importable modules the extractor needs, with the pip package and extra that bring them.
    requires: ClassVar[tuple[str, ...]] = ()
    package: ClassVar[str] = ""
    extra: ClassVar[str] = ""
    #: Whether it can read text already in a ``str`` (Document.text, registered models).
    reads_text: ClassVar[bool] = False
    #: Parse in the limited child process (EXTRACT_IN_SUBPROCESS): for parsers that a
    #: crafted file can make spin or balloon (PDF, zip-based formats).
    sandboxed: ClassVar[bool] = False

    def sniff(self, head: bytes) -> bool:
        """Whether the first KiB of a file is unmistakably this format, whatever its name."""
        return False

    def missing(self) -> list[str]:
        """The required modules that cannot be imported."""
        return [name for name in self.requires if importlib.util.find_spec(name) is None]

    def require(self) -> None:
        """Raise :class:`MissingDependency`, naming the extra, when a required module is missing."""
        if self.missing():
            raise MissingDependency(label=self.label or self.format, package=self.package, extra=self.extra)

    def signature(self) -> str:
        """What goes into a document's ingestion signature for this format."""
        return f"{type(self).__module__}.{type(self).__qualname__}:{self.version}"

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {self.version}>"


def too_long(length: int, limit: int, *, at_least: bool = False) -> FileTooLarge:
    return FileTooLarge(
        f"The document has {'more than ' if at_least else ''}{length:,} characters of text; "
        f"the limit is {limit:,} (DJANGO_RAG['MAX_TEXT_LENGTH'])."
    )


def clip_title(title: Any) -> str:
    return " ".join(str(title or "").split())[:500]


def heading_metadata(path: list[str]) -> dict[str, str]:
    """The metadata of a section under the headings ``path`` (outermost first): ``section``,
    the whole path ("Install > Requirements"), and ``heading``, the innermost one."""
    if not path:
        return {}
    return {"section": " > ".join(path), "heading": path[-1]}


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
            "The file looks like binary data, not text (it contains NUL or control bytes)."
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


def clean_value(value: Any) -> Any:
    """A metadata value fit for jsonb and for one line: no NUL or control characters,
    runs of white space as one space (in lists and dicts too)."""
    if isinstance(value, str):
        return " ".join(_NUL_AND_CONTROLS.sub(" ", value).split())
    if isinstance(value, list):
        return [clean_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): clean_value(item) for key, item in value.items()}
    return value


def clean_section(section: Section) -> Section:
    # PostgreSQL text cannot hold NUL, and PDF extraction leaves control characters and
    # long runs of blank lines that only waste chunk space.
    text = _NUL_AND_CONTROLS.sub(" ", section.text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    # Heading paths come from the same text (a UTF-16 file skips the binary check), and
    # jsonb refuses \u0000 just as text columns refuse NUL.
    metadata = {key: clean_value(value) for key, value in section.metadata.items()}
    return Section(text, metadata)
