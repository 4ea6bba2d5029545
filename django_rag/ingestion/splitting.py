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


def split_sections(sections: list[Section]) -> list[ChunkDraft]:
    splitter = RecursiveCharacterTextSplitter(**splitter_options(), keep_separator="end", strip_whitespace=True)
    drafts = []
    for section in sections:
        for piece in splitter.split_text(section.text):
            if piece.strip():
                drafts.append(ChunkDraft(piece, dict(section.metadata)))
    return drafts
