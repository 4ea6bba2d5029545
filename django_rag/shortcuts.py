"""Plain functions behind ``django_rag.search()`` and friends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .models import Chunk, Collection
from .querysets import ChunkQuerySet, searchable_chunks
from .retrieval import Mode, SearchOptions
from .tasks import queue_documents

if TYPE_CHECKING:
    from .access import Asker
    from .embedders import BaseEmbedder

# searchable_chunks lives with the QuerySets and queue_documents with the tasks; both stay importable from here.
__all__ = ["queue_documents", "search", "searchable_chunks"]


def search(
    query: str,
    *,
    user: Asker = None,
    collection: Collection | str | int | None = None,
    k: int = 5,
    mode: Mode = "hybrid",
    queryset: ChunkQuerySet | None = None,
    options: SearchOptions | None = None,
    vector: Sequence[float] | None = None,
    embedder: BaseEmbedder | str | None = None,
    language: str | None = None,
    candidates: int | None = None,
    rrf_k: float | None = None,
    weights: dict[str, float] | None = None,
    postings_per_term: int | None = None,
    min_score: float | None = None,
) -> list[Chunk]:
    """The ``k`` best chunks for ``query`` that ``user`` may see, with their documents loaded.

    ``user`` (``request.user``; ``None`` is an anonymous visitor) filters the search in
    SQL, inside each retrieval leg (see docs/permissions.md). ``collection`` is a :class:`Collection`, its slug or its primary key. ``queryset``
    narrows the search further (any ``Chunk`` QuerySet); the options after it are the
    search method's (``QuerySet.hybrid()``...), one by one or together as ``options``
    (a :class:`~django_rag.retrieval.SearchOptions`).
    ``QuerySet.top()`` checks ``mode``, ``k`` and the options.
    """
    chunks = searchable_chunks(user, collection=collection, queryset=queryset)
    return chunks.top(
        query, k, mode=mode, collections=True, options=options, vector=vector, embedder=embedder,
        language=language, candidates=candidates, rrf_k=rrf_k, weights=weights,
        postings_per_term=postings_per_term, min_score=min_score,
    )
