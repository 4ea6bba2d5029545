"""Any LangChain ``Embeddings`` as a django-rag embedder.

::

    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.langchain.Embedder",
        "OPTIONS": {
            "class": "langchain_core.embeddings.DeterministicFakeEmbedding",
            "kwargs": {"size": 256},
            "dimensions": 256,      # or leave it out: probed by embedding one short text
            "model_name": "fake-256",  # the identity stored on chunks; default: the class path
        },
    }}}

In code, pass an instance instead: ``Embedder(alias="x", embeddings=MyEmbeddings())``.

:class:`LangChainEmbedder` is also the base of the OpenAI and Ollama backends: it builds
the LangChain client on first use (never at import, never in the constructor), resolves
the dimensions lazily, checks every vector that comes back, and turns provider errors
into :class:`~django_rag.exceptions.EmbeddingError` messages without secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error
from langchain_core.embeddings import Embeddings

from ..backends import ClassOrInstance
from ..exceptions import EmbeddingError, RAGImproperlyConfigured
from ..redaction import quote_error
from .base import BaseEmbedder

#: Text embedded once to learn the dimensions when OPTIONS["dimensions"] is not set.
PROBE_TEXT = "dimension probe"


class LangChainEmbedder(BaseEmbedder):
    """Base for backends that delegate to a LangChain ``Embeddings`` object.

    A subclass provides :meth:`build_client` and may override :meth:`detect_dimensions`
    (default: the dimensions are unknown, which :meth:`check` reports as
    ``django_rag.E005``) and :meth:`translate_error`.
    """

    def __init__(self, *, alias: str, dimensions: int | None = None, **options: Any) -> None:
        # dimensions is a lazy property here, so the base class must not assign it.
        super().__init__(alias=alias, **options)
        self._dimensions: int | None = self.option_number(dimensions, "dimensions", integer=True, allow_none=True)
        self._client: Embeddings | None = None

    # -- configuration --------------------------------------------------------------

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        if self._dimensions is None:
            self._dimensions = self.detect_dimensions()
        return self._dimensions

    def dimensions_unknown_message(self) -> str:
        return f"Dimensions unknown for model {self.model_name!r}: set {self.option_path('dimensions')}."

    def detect_dimensions(self) -> int:
        raise RAGImproperlyConfigured(self.dimensions_unknown_message())

    def can_detect_dimensions(self) -> bool:
        return False

    def check(self) -> list[CheckMessage]:
        messages: list[CheckMessage] = []
        if self._dimensions is None and not self.can_detect_dimensions():
            messages.append(
                Error(
                    self.dimensions_unknown_message(),
                    hint="Give the size of the vectors the model returns, e.g. 768.",
                    obj=self.setting_path,
                    id="django_rag.E005",
                )
            )
        return messages

    # -- the client -----------------------------------------------------------------

    def build_client(self) -> Embeddings:
        raise NotImplementedError(f"{type(self).__name__} must implement build_client() -> Embeddings.")

    @property
    def client(self) -> Embeddings:
        """The LangChain object, built on first use; one per embedder, shared by threads."""
        return self.built_once("_client", self.build_client)

    def translate_error(self, exc: Exception) -> Exception | None:
        """Turn a provider's exception into a clear one, or None to let it propagate."""
        return None

    def _call(self, method: str, arg: Any) -> Any:
        try:
            return getattr(self.client, method)(arg)
        except Exception as exc:
            translated = self.translate_error(exc)
            if translated is None:
                raise
            # The original exception can carry the provider's raw body (which may echo
            # credentials): keep it off the chain and say what matters in our message.
            raise translated from None

    # -- embedding ------------------------------------------------------------------

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = list(texts)
        if not texts:
            return []
        return self.validate(self._call("embed_documents", texts), len(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.validate([self._call("embed_query", text)], 1)[0]


class Embedder(LangChainEmbedder):
    """Wrap a LangChain ``Embeddings`` class named by dotted path, or an instance."""

    provider = "langchain"

    def __init__(
        self,
        *,
        alias: str,
        dimensions: int | None = None,
        embeddings: Embeddings | None = None,
        kwargs: dict[str, Any] | None = None,
        model_name: str | None = None,
        tokenizer: str | None = None,
        max_input_tokens: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(alias=alias, dimensions=dimensions, tokenizer=tokenizer, max_input_tokens=max_input_tokens)
        self.target = ClassOrInstance.from_options(
            self, options, instance=embeddings, instance_option="embeddings", kwargs=kwargs,
            base=Embeddings, described="langchain_core Embeddings",  # a bad path is django_rag.E001
            expected='"class", "kwargs", "dimensions", "model_name", "tokenizer", "max_input_tokens" '
            '(or "embeddings" in code)',
        )
        self.kwargs = self.target.kwargs
        self.embeddings_class = self.target.cls
        if self.target.instance is not None:
            self._client = self.target.instance
        self.model_name = model_name or self.target.name

    def build_client(self) -> Embeddings:
        embeddings: Embeddings = self.target.build(self)  # from_options() checked its class
        return embeddings

    def can_detect_dimensions(self) -> bool:
        return True

    def detect_dimensions(self) -> int:
        # One short text tells the size; it costs one provider call per process, which
        # is why setting OPTIONS["dimensions"] is better for a paid API.
        try:
            vector = self.client.embed_query(PROBE_TEXT)
        except RAGImproperlyConfigured:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"Embedder {self.alias!r} could not learn its dimensions by embedding a probe text "
                f"({type(exc).__name__}: {quote_error(exc, self.secrets)}); set {self.option_path('dimensions')}."
            ) from exc
        if not vector:
            raise EmbeddingError(f"Embedder {self.alias!r} returned an empty vector for a probe text.")
        return len(vector)
