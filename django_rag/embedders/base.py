from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backends import BaseBackend
from ..exceptions import EmbeddingError


class BaseEmbedder(BaseBackend):
    """Turns text into vectors of a fixed dimension.

    A subclass provides :meth:`embed_documents`, :meth:`embed_query`, the
    :attr:`dimensions` and a :attr:`model_name`. The pair ``(provider, model_name,
    dimensions)`` is the embedder's *identity*: it is stored on every chunk, so chunks
    made by another model are never compared with this one's query vectors, and it
    names the partial HNSW index that serves this embedder.
    """

    setting_name = "EMBEDDERS"
    kind = "Embedder"
    #: The default weight of this embedder's semantic leg in hybrid search (overridden
    #: by DJANGO_RAG["HYBRID_WEIGHTS"] or ``weights=``). Neural models: 1.0.
    hybrid_weight: float = 1.0

    def __init__(self, *, alias: str, dimensions: int | None = None, **options: Any) -> None:
        super().__init__(alias=alias, **options)
        if dimensions is not None:
            self.dimensions = int(dimensions)

    dimensions: int

    @property
    def identity(self) -> str:
        """Stable name for the vectors this embedder makes, e.g. ``openai:text-embedding-3-small:1536``."""
        return f"{self.provider}:{self.model_name}:{self.dimensions}"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement embed_documents(texts) -> list[list[float]]."
        )

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} must implement embed_query(text) -> list[float].")

    def validate(self, vectors: Sequence[Sequence[float]], expected: int) -> list[list[float]]:
        """Make sure a provider answered with ``expected`` finite vectors of our dimension.

        A site's own backend, or a provider library, may answer None, a string or a vector
        of the wrong shape: each is an :class:`EmbeddingError` naming the alias here, never
        a TypeError deep inside the pipeline or the SQL.
        """
        if isinstance(vectors, (str, bytes)) or not isinstance(vectors, Sequence):
            raise EmbeddingError(
                f"Embedder {self.alias!r} returned {type(vectors).__name__}, not a list of vectors."
            )
        if len(vectors) != expected:
            raise EmbeddingError(
                f"Embedder {self.alias!r} returned {len(vectors)} vectors for {expected} texts."
            )
        out = []
        for vector in vectors:
            if isinstance(vector, (str, bytes)) or not hasattr(vector, "__len__"):
                raise EmbeddingError(
                    f"Embedder {self.alias!r} returned a {type(vector).__name__} where a vector belongs."
                )
            if len(vector) != self.dimensions:
                raise EmbeddingError(
                    f"Embedder {self.alias!r} returned a vector of {len(vector)} dimensions; "
                    f"its settings say {self.dimensions}. Fix OPTIONS['dimensions'] for this alias."
                )
            try:
                values = [float(x) for x in vector]
            except (TypeError, ValueError):
                raise EmbeddingError(f"Embedder {self.alias!r} returned a vector with values that are not numbers.") from None
            if not all(math.isfinite(x) for x in values):
                raise EmbeddingError(f"Embedder {self.alias!r} returned a vector with NaN or infinity.")
            out.append(values)
        return out
