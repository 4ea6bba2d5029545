"""``{% load django_rag %}``: answers and search results in templates, for the request's user.

- ``{% rag_answer question [collection=...] [k=...] %}`` renders
  ``django_rag/answer.html`` (override it in your own templates directory).
- ``{% rag_search query [collection=...] [k=...] [mode=...] as results %}`` puts the best
  chunks in ``results``.

Both search only what ``request.user`` may see (``visible_to``); without a request in
the context they search as an anonymous visitor.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from ..exceptions import DjangoRAGError
from ..generation import ask
from ..rendering import link_citations
from ..shortcuts import search
from ..validation import options_from_text

logger = logging.getLogger("django_rag.templatetags")

register = template.Library()


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


@register.inclusion_tag("django_rag/answer.html", takes_context=True)
def rag_answer(context: template.Context, question: str, **options: Any) -> dict[str, Any]:
    """The answer to ``question`` with numbered citations linking to their sources."""
    question = (question or "").strip()
    result: dict[str, Any] = {"question": question, "answer": None, "error": "", "request": context.get("request")}
    if not question:
        return result
    try:
        result["answer"] = ask(question, user=_user(context), **options_from_text(options))
    except ValueError as exc:  # a question that is too long, an unknown mode, k=0
        result["error"] = str(exc)
    except DjangoRAGError as exc:
        # A page must render even when the provider is down; the reason goes to the log,
        # and QueryLog already holds it.
        logger.warning("rag_answer could not answer: %s", exc)
        result["error"] = "The answer could not be generated right now. Please try again later."
    return result


@register.simple_tag(takes_context=True)
def rag_search(context: template.Context, query: str, **options: Any) -> list[Any]:
    """The best chunks for ``query`` that the request's user may see (``[]`` for an empty query)."""
    query = (query or "").strip()
    if not query:
        return []
    try:
        # Numbers often come from the query string as text: k="5" is 5, k="five" an error.
        return search(query, user=_user(context), **options_from_text(options))
    except ValueError as exc:
        # Raised while rendering, as {% widthratio %} does for a bad number: the debug
        # page points at the tag.
        raise template.TemplateSyntaxError(f"rag_search: {exc}") from exc


@register.filter
def rag_cited_html(answer: Any) -> str:
    """An answer's text as HTML with each ``[n]`` linking to source ``n``."""
    return link_citations(answer.text, answer.sources)
