"""Embedders for the re-embedding tests, importable by dotted path (settings, worker processes)."""

from __future__ import annotations

from collections.abc import Sequence

from django_rag.embedders.testing import Embedder as TestingEmbedder
from django_rag.exceptions import EmbeddingError


class Refusing(TestingEmbedder):
    """Refuses any text containing ``refuse`` (a word of its options), like a provider's HTTP 400."""

    provider = "refusing"

    def __init__(self, *, refuse: str = "POISON", **options):
        super().__init__(**options)
        self.refuse = refuse

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.refuse and any(self.refuse in text for text in texts):
            raise EmbeddingError(f"the provider refused a text containing {self.refuse}")
        return super(TestingEmbedder, self).embed_documents(texts)
