"""An embedder for tests: deterministic vectors, a record of calls, scripted failures.

Use it in your own site's tests so they run offline and can assert how often the
embedder was called::

    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.testing.Embedder",
        "OPTIONS": {"dimensions": 64, "fail_on_batch": 2},
    }}}

    embedder = django_rag.embedders.get_embedder()
    embedder.calls      # [["text of chunk 1", ...], ...], one list per call
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .hashing import Embedder as HashingEmbedder


class ScriptedEmbeddingFailure(RuntimeError):
    """Raised by the test embedder on the batch it was told to fail."""


class Embedder(HashingEmbedder):
    provider = "testing"

    def __init__(
        self,
        *,
        alias: str,
        dimensions: int = 64,
        fail_on_batch: int | None = None,
        delay: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(alias=alias, dimensions=dimensions, **options)
        self.fail_on_batch = fail_on_batch
        self.delay = delay
        self.calls: list[list[str]] = []
        self.query_calls: list[str] = []

    def reset(self) -> None:
        self.calls.clear()
        self.query_calls.clear()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.fail_on_batch is not None and len(self.calls) == self.fail_on_batch:
            raise ScriptedEmbeddingFailure(f"scripted failure on batch {self.fail_on_batch}")
        if self.delay:
            time.sleep(self.delay)
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.query_calls.append(text)
        return super().embed_query(text)
