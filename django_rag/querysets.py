"""QuerySets for documents and chunks. Retrieval methods live in :mod:`django_rag.retrieval`."""

from __future__ import annotations

from django.db import models


class DocumentQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status="ready")

    def failed(self):
        return self.filter(status="failed")


class ChunkQuerySet(models.QuerySet):
    def for_embedder(self, embedder):
        """Chunks whose vectors were made by ``embedder`` (an embedder or an alias)."""
        from .embedders import get_embedder

        if isinstance(embedder, str):
            embedder = get_embedder(embedder)
        return self.filter(embedder=embedder.identity)
