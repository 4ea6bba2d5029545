"""QuerySets for documents and chunks. Retrieval methods live in :mod:`django_rag.retrieval`."""

from __future__ import annotations

from django.db import models


class DocumentQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status="ready")

    def failed(self):
        return self.filter(status="failed")


class ChunkQuerySet(models.QuerySet):
    def for_embedder(self, embedder=None):
        """Chunks whose vectors were made by ``embedder`` (an embedder, an alias, or the default)."""
        from .retrieval import resolve_embedder

        return self.filter(embedder=resolve_embedder(embedder).identity)

    def semantic(self, query: str | None = None, *, vector=None, embedder=None):
        """Nearest chunks by cosine distance, annotated with ``distance`` and ``score`` (1 - distance).

        Pass ``vector=`` to skip the embedding call. Slice the result (``[:10]``): the
        HNSW index serves ``ORDER BY distance LIMIT k``.
        """
        from django.db.models import F

        from .retrieval import cosine_distance, resolve_embedder

        model = resolve_embedder(embedder)
        if vector is None:
            if query is None:
                raise TypeError("semantic() needs a query string or vector=.")
            vector = model.embed_query(query)
        return (
            self.filter(embedder=model.identity)
            .annotate(distance=cosine_distance(vector, model.dimensions))
            .annotate(score=1 - F("distance"))
            .order_by("distance")
        )
