"""``{% load django_rag %}``: answers and search results in templates, for the request's user.

- ``{% rag_answer question [collection=...] [k=...] %}`` renders
  ``django_rag/answer.html`` (override it in your own templates directory).
- ``{% rag_search query [collection=...] [k=...] [mode=...] as results %}`` puts the best
  chunks in ``results``; when the embedder or the database fails, ``results`` is empty
  and ``results.error`` says so (the words the REST API answers with).
- ``{{ chunk|rag_passage:600 }}`` renders a passage as what it is; ``{% rag_relevance chunk
  results forloop.counter %}`` shows its rank, the legs that matched and a relative bar.

Both search only what ``request.user`` may see (``visible_to``); without a request in
the context they search as an anonymous visitor.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from ..exceptions import DjangoRAGError, query_failure
from ..generation import ask
from ..models import Chunk, Collection
from ..rendering import citation_numbers, link_citations, relevance_html, render_passage
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
    except Collection.DoesNotExist:
        # The same words for a collection the user may not see as for a missing one.
        result["error"] = f"No collection {options.get('collection')!r}."
    except Exception as exc:
        failure = query_failure(exc)
        if failure is None and not isinstance(exc, DjangoRAGError):
            raise
        # A page must render even when the provider or the database is down; the reason
        # goes to the log, and QueryLog already holds it.
        logger.warning("rag_answer could not answer: %s: %s", type(exc).__name__, exc)
        result["error"] = failure[2] if failure else "The answer could not be generated right now. Please try again later."
    return result


class SearchResults(list[Chunk]):
    """``rag_search``'s results: a list, with ``error`` set when the search could not run."""

    error = ""


@register.simple_tag(takes_context=True)
def rag_search(context: template.Context, query: str, **options: Any) -> list[Any]:
    """The best chunks for ``query`` that the request's user may see (``[]`` for an empty query)."""
    query = (query or "").strip()
    if not query:
        return SearchResults()
    try:
        # Numbers often come from the query string as text: k="5" is 5, k="five" an error.
        return SearchResults(search(query, user=_user(context), **options_from_text(options)))
    except ValueError as exc:
        # Raised while rendering, as {% widthratio %} does for a bad number: the debug
        # page points at the tag.
        raise template.TemplateSyntaxError(f"rag_search: {exc}") from exc
    except Exception as exc:
        failure = query_failure(exc)
        if failure is None:
            raise
        logger.warning("rag_search could not search: %s: %s", type(exc).__name__, exc)
        results = SearchResults()
        results.error = failure[2]
        return results


@register.filter
def rag_cited_html(answer: Any) -> str:
    """An answer's text as HTML with each ``[n]`` linking to source ``n``, numbered in reading order."""
    return link_citations(answer.text, answer.sources, shown=citation_numbers(answer.citations))


@register.filter
def rag_passage(item: Any, limit: Any = None) -> str:
    """A chunk's or a source's text rendered as what it is (Markdown sanitised, or paragraphs).

    ``{{ chunk|rag_passage:600 }}`` shortens it to about 600 characters first.
    """
    text = getattr(item, "content", None)
    if text is None:
        text = getattr(item, "text", "") or ""
    return render_passage(text, getattr(item, "document", None), limit=int(limit) if limit else None)


@register.simple_tag
def rag_relevance(item: Any, results: Any, rank: Any = None) -> str:
    """``{% rag_relevance chunk results forloop.counter %}``: rank, matched legs and a bar; the score in a tooltip."""
    return relevance_html(item, list(results), int(rank) if rank else None)


@register.filter
def rag_cited_as(source: Any, answer: Any) -> int | str:
    """The number a source is shown with under ``answer`` (``""`` when it is not cited)."""
    return citation_numbers(answer.citations).get(source.number, "")
