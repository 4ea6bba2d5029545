"""The messages sent to the LLM, rendered from overridable Django templates.

Override ``django_rag/prompts/system.txt``, ``answer.txt`` or ``condense.txt`` in your
own templates directory to change the instructions. ``answer.txt`` receives
``question`` and ``sources`` (each with ``number``, ``title``, ``page`` and ``text``);
keep each source starting with its ``[n]`` on a line of its own: the offline extractive
LLM reads sources that way.

Document text is untrusted: whoever uploaded a document wrote it, and it must not be
able to pass for the prompt's own structure. So the values the templates receive are
already neutralised (:func:`quote_source_text`, :func:`neutral_line`): every line of a
source's text starts with ``> ``, so no line of it can begin a source header, a
``Question:`` line or a conversation turn, which all start at the line's first column;
bracketed numbers inside it become ``(n)``, so it cannot carry a citation of another
source; titles are one line with the same treatment. An overriding template gets the
same safe values without doing anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from ..conf import get_setting

QUOTE = "> "
# [3], [2, 3], [ 4 ]: what a citation looks like to the LLM and to the citation parser.
_BRACKETED_NUMBERS = re.compile(r"\[(\s*\d[\d\s,;–-]*)\]")


@dataclass(frozen=True)
class PromptSource:
    """What a prompt template sees of a source: its number and neutralised title and text."""

    number: int
    title: str
    page: int | None
    text: str


def defuse_citations(text: str) -> str:
    """``[3]`` becomes ``(3)``: text from a document cannot cite a source of its own choosing."""
    if "[" not in text:
        return text
    return _BRACKETED_NUMBERS.sub(lambda match: f"({match.group(1).strip()})", text)


def neutral_line(text: str) -> str:
    """Untrusted text for a single line of the prompt (a title): no line breaks, no citations."""
    return defuse_citations(" ".join(str(text).split()))


def quote_source_text(text: str) -> str:
    """Untrusted text as a quoted block: every line starts with ``> ``, citations defused."""
    # splitlines() breaks at every line boundary Unicode knows (\r, \u2028, \x85...),
    # as an LLM reading the text might.
    return QUOTE + "\n> ".join(defuse_citations(str(text)).splitlines() or [""])


def prompt_sources(sources: Sequence[Any]) -> list[PromptSource]:
    return [
        PromptSource(
            number=source.number, title=neutral_line(source.title), page=source.page,
            text=quote_source_text(source.text),
        )
        for source in sources
    ]


def answer_messages(question: str, sources: Sequence[Any]) -> list[dict[str, str]]:
    context = {
        "question": question, "sources": prompt_sources(sources), "no_answer": get_setting("NO_ANSWER_TEXT"),
    }
    return [
        {"role": "system", "content": render_to_string("django_rag/prompts/system.txt", context).strip()},
        {"role": "user", "content": render_to_string("django_rag/prompts/answer.txt", context).strip()},
    ]


def condense_messages(question: str, history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    # Earlier turns carry answers made from document text: indent their extra lines so
    # none of them can start a "User:" or "Assistant:" turn of its own.
    turns = [{**turn, "content": _continued(turn.get("content", ""))} for turn in history]
    content = render_to_string("django_rag/prompts/condense.txt", {"question": _continued(question), "history": turns})
    return [{"role": "user", "content": content.strip()}]


def _continued(text: str) -> str:
    return "\n  ".join(str(text).splitlines() or [""])
