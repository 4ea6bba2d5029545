from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backends import BaseBackend
from ..exceptions import EmbeddingError, RAGImproperlyConfigured
from .tokenizers import TokenCounter, tiktoken_counter, tiktoken_installed


class BaseEmbedder(BaseBackend):
    """Turns text into vectors of a fixed dimension.

    A subclass provides :meth:`embed_documents`, :meth:`embed_query`, the
    :attr:`dimensions` and a :attr:`model_name`. The pair ``(provider, model_name,
    dimensions)`` is the embedder's *identity*: it is stored on every chunk, so chunks
    made by another model are never compared with this one's query vectors, and it
    names the partial HNSW index that serves this embedder.

    Token counting (for ``CHUNK_UNIT = "tokens"`` and the input limit): a backend that
    knows how its model counts overrides :meth:`tokenizer_name` and :meth:`build_tokenizer`,
    and :meth:`default_max_input_tokens`. Any embedder accepts the options ``tokenizer``
    (a tiktoken encoding, e.g. ``"cl100k_base"``, for a model tiktoken does not know by
    name) and ``max_input_tokens`` (the model's limit, when the backend does not know it).
    """

    setting_name = "EMBEDDERS"
    kind = "Embedder"
    #: The default weight of this embedder's semantic leg in hybrid search (overridden
    #: by DJANGO_RAG["HYBRID_WEIGHTS"] or ``weights=``). Neural models: 1.0.
    hybrid_weight: float = 1.0

    def __init__(
        self,
        *,
        alias: str,
        dimensions: int | None = None,
        tokenizer: str | None = None,
        max_input_tokens: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(alias=alias, **options)
        if dimensions is not None:
            self.dimensions = int(dimensions)
        if tokenizer is not None and (not isinstance(tokenizer, str) or not tokenizer):
            raise RAGImproperlyConfigured(
                f'{self.option_path("tokenizer")} must be the name of a tiktoken encoding, such as "cl100k_base".'
            )
        self.tokenizer_option: str | None = tokenizer
        self.max_input_tokens_option: int | None = self.option_number(
            max_input_tokens, "max_input_tokens", integer=True, allow_none=True
        )
        self._token_counter: TokenCounter | None = None

    dimensions: int

    # -- tokens ---------------------------------------------------------------------

    @property
    def max_input_tokens(self) -> int | None:
        """The most tokens of one text the model reads; None when not known.

        Providers cut a longer text off (OpenAI refuses it; sentence-transformers and
        Ollama drop the end silently), so the splitter keeps every chunk, with its context
        line, under this. ``OPTIONS["max_input_tokens"]``, else what the backend knows of
        its model. Never loads a model.
        """
        option = self.max_input_tokens_option
        return option if option is not None else self.default_max_input_tokens()

    def default_max_input_tokens(self) -> int | None:
        """The model's input limit when no option gives it (None: unknown)."""
        return None

    def resolve_max_input_tokens(self) -> int | None:
        """:attr:`max_input_tokens`, loading the model if that is what it takes to know it
        (at ingestion, where the model is about to be used anyway)."""
        return self.max_input_tokens

    def tiktoken_encoding_name(self) -> str | None:
        """The tiktoken encoding this model counts with (``OPTIONS["tokenizer"]``)."""
        return self.tokenizer_option

    def tokenizer_name(self) -> str | None:
        """What counts this embedder's tokens, e.g. ``"tiktoken:cl100k_base"``; None when it
        has no tokenizer (then chunks are measured in characters). Loads nothing; part of
        the ingestion signature, so a new tokenizer re-chunks."""
        encoding = self.tiktoken_encoding_name()
        return f"tiktoken:{encoding}" if encoding and tiktoken_installed() else None

    def has_tokenizer(self) -> bool:
        return self.tokenizer_name() is not None

    def build_tokenizer(self) -> TokenCounter:
        """Make the token counter :meth:`tokenizer` returns (called once)."""
        encoding = self.tiktoken_encoding_name()
        assert encoding is not None
        return tiktoken_counter(encoding)

    def tokenizer(self) -> TokenCounter | None:
        """A function counting tokens as the model does, built on first use (which may load
        an encoding or a model); None when this embedder has no tokenizer."""
        if not self.has_tokenizer():
            return None
        return self.built_once("_token_counter", self.build_tokenizer)

    def count_tokens(self, text: str) -> int:
        """The number of tokens the model makes of ``text``."""
        counter = self.tokenizer()
        if counter is None:
            raise RAGImproperlyConfigured(
                f"Embedder {self.alias!r} has no tokenizer: set {self.option_path('tokenizer')} to a tiktoken "
                "encoding, or measure chunks in characters."
            )
        return counter(text)

    # -- vectors --------------------------------------------------------------------

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
