"""Plain functions behind ``django_rag.search()`` and friends."""

from __future__ import annotations

from typing import Any

from .models import Chunk, Collection
from .querysets import searchable_chunks
from .tasks import queue_documents

# searchable_chunks lives with the QuerySets and queue_documents with the tasks; both stay importable from here.
__all__ = ["queue_documents", "search", "searchable_chunks"]


def search(
    query: str,
    *,
    user: Any = None,
    collection: Collection | str | int | None = None,
    k: int = 5,
    mode: str = "hybrid",
    queryset: Any = None,
    **options: Any,
) -> list[Chunk]:
    """The ``k`` best chunks for ``query`` that ``user`` may see, with their documents loaded.

    ``user`` (``request.user``; ``None`` is an anonymous visitor) filters the search in
    SQL, inside each retrieval leg (see docs/permissions.md). ``collection`` is a :class:`Collection`, its slug or its primary key. ``queryset``
    narrows the search further (any ``Chunk`` QuerySet); other keyword arguments go to
    the search method (``candidates``, ``rrf_k``, ``weights``, ``vector``, ``language``...).
    ``QuerySet.top()`` checks ``mode``, ``k`` and the options.
    """
    chunks = searchable_chunks(user, collection=collection, queryset=queryset)
    return chunks.top(query, k, mode=mode, collections=True, **options)
