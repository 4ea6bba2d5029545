"""Cut extracted sections into chunks with langchain-text-splitters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ..conf import get_settings
from .extractors import Section


@dataclass
class ChunkDraft:
    content: str
    metadata: dict[str, Any]


def splitter_options() -> dict[str, Any]:
    """The settings that shape chunks; part of the ingestion signature."""
    settings = get_settings()
    return {
        "chunk_size": settings["CHUNK_SIZE"],
        "chunk_overlap": settings["CHUNK_OVERLAP"],
        "separators": list(settings["SEPARATORS"]),
    }


def _public(metadata: dict[str, Any]) -> dict[str, Any]:
    # Keys with a leading underscore are instructions from an extractor to the splitter
    # (a CSV's header line), not metadata to store.
    return {key: value for key, value in metadata.items() if not key.startswith("_")}


def split_sections(sections: list[Section]) -> list[ChunkDraft]:
    options = splitter_options()
    splitter = RecursiveCharacterTextSplitter(**options, keep_separator="end", strip_whitespace=True)
    drafts = []
    for section in sections:
        header = section.metadata.get("_header")
        if isinstance(header, str) and header:
            drafts.extend(split_rows(section, header, splitter, options["chunk_size"]))
            continue
        for piece in splitter.split_text(section.text):
            if piece.strip():
                drafts.append(ChunkDraft(piece, _public(section.metadata)))
    return drafts


def split_rows(section: Section, header: str, splitter: Any, size: int) -> list[ChunkDraft]:
    """Rows (one a line) in groups that fit ``size`` with the header line first; ``rows``
    says which (1 is the first row under the header). A row too long for a chunk of its
    own is cut like text, each piece under the header. Rows do not overlap: each is
    whole in one group, so there is nothing cut to repeat."""
    length = splitter._length_function
    metadata = _public(section.metadata)
    drafts: list[ChunkDraft] = []
    group: list[str] = []
    first = 1
    used = length(header)

    def flush(last: int) -> None:
        if group:
            drafts.append(ChunkDraft("\n".join([header, *group]), {**metadata, "rows": f"{first}-{last}"}))
            group.clear()

    for number, row in enumerate(section.text.split("\n"), start=1):
        cost = length(row) + 1
        if group and used + cost > size:
            flush(number - 1)
            used = length(header)
        if not group:
            first = number
        if length(header) + cost > size:
            # Too long even alone: its pieces, each with the header.
            room = max(size - length(header) - 1, size // 2)
            cutter = RecursiveCharacterTextSplitter(
                chunk_size=room, chunk_overlap=min(splitter._chunk_overlap, room // 2),
                length_function=length, separators=[" | ", " ", ""], keep_separator="end",
            )
            for piece in cutter.split_text(row):
                drafts.append(ChunkDraft(f"{header}\n{piece}", {**metadata, "rows": f"{number}-{number}"}))
            continue
        group.append(row)
        used += cost
    flush(len(section.text.split("\n")))
    return drafts
