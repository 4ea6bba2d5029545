"""Plain functions behind ``django_rag.search()`` and friends."""

from __future__ import annotations

from typing import Any

from .models import Chunk, Collection

MODES = ("hybrid", "semantic", "keyword")


def search(
    query: str,
    *,
    collection: Collection | str | int | None = None,
    k: int = 5,
    mode: str = "hybrid",
    queryset: Any = None,
    **options: Any,
) -> list[Chunk]:
    """The ``k`` best chunks for ``query``, with their documents loaded.

    ``collection`` is a :class:`Collection`, its slug or its primary key. ``queryset``
    narrows the search further (any ``Chunk`` QuerySet); other keyword arguments go to
    the search method (``candidates``, ``rrf_k``, ``weights``, ``vector``, ``language``...).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if k < 1:
        raise ValueError("k must be at least 1.")
    chunks = queryset if queryset is not None else Chunk.objects.all()
    if collection is not None:
        if isinstance(collection, Collection):
            chunks = chunks.filter(document__collection=collection)
        elif isinstance(collection, int):
            chunks = chunks.filter(document__collection_id=collection)
        else:
            chunks = chunks.filter(document__collection__slug=collection)
    results = getattr(chunks, mode)(query, **options).select_related("document", "document__collection")
    return list(results[:k])
