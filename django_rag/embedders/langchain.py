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

import threading
from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string
from langchain_core.embeddings import Embeddings

from ..exceptions import EmbeddingError, RAGImproperlyConfigured
from ..redaction import redact
from .base import BaseEmbedder

#: Text embedded once to learn the dimensions when OPTIONS["dimensions"] is not set.
PROBE_TEXT = "dimension probe"

# Provider error text quoted in messages is cut to this length: enough for "model not
# found" or "rate limit reached", never a whole HTML error page.
MAX_QUOTED_ERROR = 200


def quote_error(text: Any, secrets: Sequence[str | None] = ()) -> str:
    """A provider's error message, redacted, on one line and of bounded length."""
    text = " ".join(str(text).split())
    if len(text) > MAX_QUOTED_ERROR:
        text = text[: MAX_QUOTED_ERROR - 1] + "…"
    return redact(text, secrets)


def positive_number(value: Any, where: str, *, integer: bool = False, allow_none: bool = False) -> Any:
    """Validate a numeric option, naming the setting to fix."""
    if value is None and allow_none:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise RAGImproperlyConfigured(f"{where} must be {kind}, not {value!r}.")
    return value


def import_langchain_class(class_path: Any, where: str, base: type, described: str) -> type:
    """The class named by the dotted path ``class_path`` (the option at ``where``), which
    must subclass ``base`` (``described`` in messages)."""
    if not isinstance(class_path, str):
        raise RAGImproperlyConfigured(f"{where} must be a dotted path string.")
    # Importing is local work (no network): failing here reports the bad path as a system
    # check error at startup rather than on first use.
    try:
        imported = import_string(class_path)
    except ImportError as exc:
        raise RAGImproperlyConfigured(f"{where} = {class_path!r} could not be imported: {exc}") from exc
    if not (isinstance(imported, type) and issubclass(imported, base)):
        raise RAGImproperlyConfigured(f"{where} = {class_path!r} is not a {described} subclass.")
    return imported


class LangChainEmbedder(BaseEmbedder):
    """Base for backends that delegate to a LangChain ``Embeddings`` object.

    A subclass provides :meth:`build_client` and may override :meth:`detect_dimensions`
    (default: the dimensions are unknown, which :meth:`check` reports as
    ``django_rag.E005``) and :meth:`translate_error`.
    """

    #: What messages call this kind of backend.
    kind = "Embedder"

    def __init__(self, *, alias: str, dimensions: int | None = None, **options: Any) -> None:
        # dimensions is a lazy property here, so the base class must not assign it.
        super().__init__(alias=alias, **options)
        self._dimensions: int | None = positive_number(
            dimensions, self.option_path("dimensions"), integer=True, allow_none=True
        )
        self._client: Embeddings | None = None
        self._client_lock = threading.Lock()

    # -- configuration --------------------------------------------------------------

    @property
    def setting_path(self) -> str:
        return f'DJANGO_RAG["EMBEDDERS"]["{self.alias}"]'

    def option_path(self, name: str) -> str:
        return f'{self.setting_path}["OPTIONS"]["{name}"]'

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a message (read by ``redact``)."""
        return []

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
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self.build_client()
        return self._client

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
        **options: Any,
    ) -> None:
        # "class" is a Python keyword, so it arrives in **options.
        class_path = options.pop("class", None)
        super().__init__(alias=alias, dimensions=dimensions)
        if options:
            # A misspelt "kwargs" or "dimensions" would otherwise be ignored without a word.
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] has unknown keys {sorted(options)}; expected "class", '
                '"kwargs", "dimensions", "model_name" (or "embeddings" in code).'
            )
        if (embeddings is None) == (class_path is None):
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] needs exactly one of "class" (a dotted path to a LangChain '
                'Embeddings class) or, in code, "embeddings" (an instance).'
            )
        if kwargs is not None and not isinstance(kwargs, dict):
            raise RAGImproperlyConfigured(f"{self.option_path('kwargs')} must be a dict of keyword arguments.")
        self.kwargs = dict(kwargs or {})
        self.embeddings_class: type | None = None
        if embeddings is not None:
            if not isinstance(embeddings, Embeddings):
                raise RAGImproperlyConfigured(
                    f"{self.option_path('embeddings')} must be a langchain_core Embeddings instance, "
                    f"not {type(embeddings).__name__}."
                )
            self._client = embeddings
            default_name = f"{type(embeddings).__module__}.{type(embeddings).__qualname__}"
        else:
            # A bad path is django_rag.E001.
            self.embeddings_class = import_langchain_class(
                class_path, self.option_path("class"), Embeddings, "langchain_core Embeddings"
            )
            default_name = class_path
        self.model_name = model_name or default_name

    def build_client(self) -> Embeddings:
        assert self.embeddings_class is not None
        try:
            return self.embeddings_class(**self.kwargs)
        except Exception as exc:
            raise RAGImproperlyConfigured(
                f"{self.option_path('kwargs')} were not accepted by {self.embeddings_class.__name__}: "
                f"{type(exc).__name__}: {quote_error(exc, self.secrets)}"
            ) from exc

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
