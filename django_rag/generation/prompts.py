"""The messages sent to the LLM, rendered from overridable Django templates.

Override ``django_rag/prompts/system.txt``, ``answer.txt`` or ``condense.txt`` in your
own templates directory to change the instructions. ``answer.txt`` receives
``question`` and ``sources`` (each with ``number``, ``title``, ``page`` and ``text``);
keep each source starting with its ``[n]`` on a line of its own: the offline extractive
LLM reads sources that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.template.loader import render_to_string

from ..conf import get_setting


def answer_messages(question: str, sources: Sequence[Any]) -> list[dict[str, str]]:
    context = {"question": question, "sources": sources, "no_answer": get_setting("NO_ANSWER_TEXT")}
    return [
        {"role": "system", "content": render_to_string("django_rag/prompts/system.txt", context).strip()},
        {"role": "user", "content": render_to_string("django_rag/prompts/answer.txt", context).strip()},
    ]


def condense_messages(question: str, history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    content = render_to_string("django_rag/prompts/condense.txt", {"question": question, "history": history})
    return [{"role": "user", "content": content.strip()}]
