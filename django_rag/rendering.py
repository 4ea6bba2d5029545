"""HTML for answers: the plain functions behind the ``{% rag_answer %}`` template tag."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.utils.html import conditional_escape, format_html, linebreaks
from django.utils.safestring import SafeString, mark_safe

from .generation.citations import CITATION


def source_link(source: Any) -> str:
    """Where a citation points: the source's URL (a file's already ends in ``#page=N``)."""
    return source.url or f"#rag-source-{source.number}"


def link_citations(text: str, sources: Sequence[Any]) -> SafeString:
    """``text`` as HTML paragraphs, each ``[n]`` a link to source ``n``.

    The text is escaped first: an answer is model output, and a model can be talked
    into writing markup.
    """
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
                        source_link(source), source.title, source.number,
                    )
                )
        return f"[{', '.join(parts)}]"

    # The escaped text still holds [n] intact: escaping touches only <>&'".
    return mark_safe(linebreaks(CITATION.sub(link, escaped), autoescape=False))
