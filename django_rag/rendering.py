"""HTML for answers: the plain functions behind the ``{% rag_answer %}`` template tag."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from django.utils.html import conditional_escape, format_html, linebreaks
from django.utils.safestring import SafeString, mark_safe

from . import markdown
from .generation.citations import CITATION


def source_link(source: Any) -> str:
    """Where a citation points: the source's URL (a file's already ends in ``#page=N``)."""
    return source.url or f"#rag-source-{source.number}"


def citation_numbers(citations: Sequence[Any]) -> dict[int, int]:
    """The number each cited source is shown with: 1, 2, 3 in the order the answer cites them.

    A model cites the sources by their place in the prompt (the retrieval rank), so an
    answer built from the third passage first reads "[3] ... [1]" and its list of sources
    would read 3, 2, 1. People read citations like footnotes, so they are shown renumbered
    in reading order; the source ids (``#rag-source-N``) and the API keep the prompt's numbers.
    """
    return {source.number: shown for shown, source in enumerate(citations, start=1)}


def link_citations(text: str, sources: Sequence[Any], *, shown: dict[int, int] | None = None) -> SafeString:
    """``text`` as HTML paragraphs, each ``[n]`` a link to source ``n``.

    The text is escaped first: an answer is model output, and a model can be talked
    into writing markup. ``shown`` maps a source's number to the number displayed
    (:func:`citation_numbers`); by default each is shown as is.
    """
    shown = shown or {}
    by_number = {source.number: source for source in sources}
    escaped = str(conditional_escape(text))

    def link(match: re.Match[str]) -> str:
        parts = []
        for part in re.split(r"[,;]", match.group(1)):
            source = by_number.get(int(part))
            if source is None:
                parts.append(part.strip())
            else:
                parts.append(
                    format_html(
                        '<a class="rag-citation" href="{}" title="{}">{}</a>',
                        source_link(source), source.title, shown.get(source.number, source.number),
                    )
                )
        return f"[{', '.join(parts)}]"

    # The escaped text still holds [n] intact: escaping touches only <>&'".
    return mark_safe(linebreaks(CITATION.sub(link, escaped), autoescape=False))


def is_markdown(document: Any) -> bool:
    """Whether a document's text is Markdown (a ``.md`` file, or text ingested as Markdown)."""
    if document is None:
        return False
    metadata = document.metadata if isinstance(getattr(document, "metadata", None), dict) else {}
    if metadata.get("format"):
        return bool(metadata["format"] == "markdown")
    if document.file:
        return PurePath(document.file.name).suffix.lower() in {".md", ".markdown"}
    return True  # a text document is ingested as Markdown (django_rag.ingestion.pipeline)


def render_passage(text: str, document: Any = None, *, limit: int | None = None) -> SafeString:
    """A passage as what it is: Markdown rendered (and sanitised), other text as paragraphs.

    ``limit`` shortens the text first, at a word, with an ellipsis.
    """
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rsplit(" ", 1)[0] + "…"
    if is_markdown(document):
        return markdown.render(text)
    return mark_safe(linebreaks(text, autoescape=True))  # each paragraph escaped


def relevance(item: Any, results: Sequence[Any], rank: int | None = None) -> dict[str, Any]:
    """What a person can read of a search score: the rank, the legs that found it, a bar.

    ``item`` is a chunk from ``search()`` / ``top()`` or an answer's source (whose chunk
    carries the same annotations); ``results`` is the list it came in. Fused (RRF) scores
    mean nothing on their own (0.0164 against 0.0154), so the bar is the score relative
    to the best of the list, and the raw number goes in a tooltip.
    """
    chunk = getattr(item, "chunk", None) or item
    score = float(getattr(item, "score", 0.0) or 0.0)
    best = max((float(getattr(other, "score", 0.0) or 0.0) for other in results), default=0.0)
    if rank is None:
        rank = next((n for n, other in enumerate(results, start=1) if other is item), 0)
    legs = []
    keyword_rank = getattr(chunk, "keyword_rank", None)
    semantic_rank = getattr(chunk, "semantic_rank", None)
    if keyword_rank is not None:
        legs.append(("words", keyword_rank))
    if semantic_rank is not None:
        legs.append(("meaning", semantic_rank))
    percent = round(100 * score / best) if best > 0 else 0
    tooltip = f"score {score:.4f}" + "".join(f"; {name} rank {n}" for name, n in legs)
    return {"rank": rank, "legs": legs, "percent": max(0, min(percent, 100)), "score": score, "tooltip": tooltip}


def relevance_html(item: Any, results: Sequence[Any], rank: int | None = None) -> SafeString:
    """:func:`relevance` as a small HTML badge (class ``rag-relevance``)."""
    info = relevance(item, results, rank)
    legs = ", ".join(f"{name} #{n}" for name, n in info["legs"])
    # A cached answer's sources carry no leg ranks: then there is nothing to say about them.
    matched = format_html(' <span class="rag-legs">matched: {}</span>', legs) if legs else ""
    return format_html(
        '<span class="rag-relevance" title="{}"><span class="rag-rank">#{}</span> '
        '<span class="rag-bar" role="img" aria-label="{}% of the best match" '
        'style="display:inline-block;width:4em;height:.5em;background:#e5e7eb;vertical-align:middle">'
        '<span style="display:block;height:100%;width:{}%;background:#2563eb"></span></span>{}</span>',
        info["tooltip"], info["rank"], info["percent"], info["percent"], matched,
    )
