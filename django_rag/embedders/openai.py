"""OpenAI embeddings (and OpenAI-compatible servers) through langchain-openai.

::

    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.openai.Embedder",
        "OPTIONS": {"model": "text-embedding-3-small"},  # key from $OPENAI_API_KEY
    }}}

Options: ``model``, ``dimensions`` (known for OpenAI's own models; required for others;
sent to the API only for text-embedding-3 models, which can shorten their vectors),
``api_key`` (default ``$OPENAI_API_KEY``, read when the embedder is built), ``base_url``
(default ``$OPENAI_API_BASE`` or ``$OPENAI_BASE_URL``; for proxies, vLLM, LiteLLM...),
``timeout`` in seconds, ``max_retries``, ``check_embedding_ctx_length``; any other option
is passed to ``OpenAIEmbeddings``.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error

from ..exceptions import EmbeddingError, ImproperlyInstalled, RAGImproperlyConfigured
from ..redaction import redact
from .langchain import LangChainEmbedder, positive_number, quote_error

try:
    import openai
    from langchain_openai import OpenAIEmbeddings
except ImportError as exc:  # pragma: no cover - exercised by simulating the missing package
    raise ImproperlyInstalled(
        backend="django_rag.embedders.openai.Embedder", package="langchain-openai", extra="openai"
    ) from exc

#: Native output sizes of OpenAI's embedding models.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class Embedder(LangChainEmbedder):
    provider = "openai"

    def __init__(
        self,
        *,
        alias: str,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        # True makes langchain-openai tokenize with tiktoken, whose encoding files are
        # downloaded on first use: offline, that fails before any request is sent.
        # Chunks are far below the 8,191-token limit anyway (CHUNK_SIZE is in characters).
        check_embedding_ctx_length: bool = False,
        **extra: Any,
    ) -> None:
        if dimensions is None:
            dimensions = KNOWN_DIMENSIONS.get(model)
        super().__init__(alias=alias, dimensions=dimensions)
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name.")
        self.model_name = self.model = model
        # Read the environment now rather than at import, so settings and tests that set
        # the variable before building the embedder are honoured.
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        # The same fallbacks langchain-openai and the SDK use, resolved here so that error
        # messages can say where the request went.
        self.base_url = base_url or os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL")
        self.timeout = positive_number(timeout, self.option_path("timeout"), allow_none=True)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise RAGImproperlyConfigured(
                f"{self.option_path('max_retries')} must be an integer >= 0, not {max_retries!r}."
            )
        self.max_retries = max_retries
        self.check_embedding_ctx_length = bool(check_embedding_ctx_length)
        self.extra = extra

    @property
    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    @property
    def sends_dimensions(self) -> bool:
        # Only text-embedding-3 models accept "dimensions"; ada-002 and most
        # OpenAI-compatible servers reject the parameter.
        return self.model.startswith("text-embedding-3")

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "check_embedding_ctx_length": self.check_embedding_ctx_length,
            **self.extra,
        }
        if self.base_url:
            kwargs["base_url"] = self.base_url
        if self.sends_dimensions and self._dimensions is not None:
            kwargs["dimensions"] = self._dimensions
        return kwargs

    def build_client(self) -> OpenAIEmbeddings:
        if not self.api_key:
            raise RAGImproperlyConfigured(self._missing_key_message())
        try:
            return OpenAIEmbeddings(**self.client_kwargs())
        except Exception as exc:  # pydantic's ValidationError for a bad option, mostly
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] were not accepted by OpenAIEmbeddings: '
                f"{quote_error(exc, self.secrets)}"
            ) from None

    def _missing_key_message(self) -> str:
        return (
            f"Embedder {self.alias!r} has no OpenAI API key: set the OPENAI_API_KEY environment variable "
            f"or {self.option_path('api_key')} (any non-empty string for a server that needs none)."
        )

    def check(self) -> list[CheckMessage]:
        messages = super().check()
        if not self.api_key:
            messages.append(Error(self._missing_key_message(), obj=self.setting_path, id="django_rag.E006"))
        else:
            # Building the client is local work (no request): it catches misspelt options.
            try:
                self.build_client()
            except RAGImproperlyConfigured as exc:
                messages.append(Error(str(exc), obj=self.setting_path, id="django_rag.E007"))
        return messages

    @property
    def where(self) -> str:
        return redact(self.base_url or "api.openai.com", self.secrets)

    def translate_error(self, exc: Exception) -> Exception | None:
        prefix = f"Embedder {self.alias!r} ({self.provider} {self.model} at {self.where})"
        tries = self.max_retries + 1
        attempts = f"gave up after {tries} attempt{'s' if tries > 1 else ''}"
        # APITimeoutError subclasses APIConnectionError: test it first.
        if isinstance(exc, openai.APITimeoutError):
            within = f"within {self.timeout:g} s " if self.timeout else ""
            return EmbeddingError(f"{prefix}: no reply {within}({self.option_path('timeout')}); {attempts}.")
        if isinstance(exc, openai.APIConnectionError):
            return EmbeddingError(f"{prefix}: could not connect or the connection dropped; {attempts}.")
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            detail = body.get("message") if isinstance(body, dict) else None
            hint = {
                401: f" Check the API key ({self.option_path('api_key')} or OPENAI_API_KEY).",
                404: f" Check {self.option_path('model')} and {self.option_path('base_url')}.",
                429: " Rate limited or out of quota; retry later or raise max_retries.",
            }.get(exc.status_code, "")
            said = f": {quote_error(detail, self.secrets).rstrip('.')}" if detail else ""
            return EmbeddingError(f"{prefix}: HTTP {exc.status_code}{said}.{hint}")
        if isinstance(exc, ValueError):  # JSONDecodeError, pydantic's ValidationError
            return EmbeddingError(f"{prefix}: the reply was not a valid embeddings response ({type(exc).__name__}).")
        return None
