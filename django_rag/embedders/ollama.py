"""Embeddings from an Ollama server through langchain-ollama.

::

    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.ollama.Embedder",
        "OPTIONS": {"model": "nomic-embed-text"},  # server from $OLLAMA_HOST or 127.0.0.1:11434
    }}}

Options: ``model``, ``dimensions`` (known for nomic-embed-text, mxbai-embed-large and
all-minilm; required for other models), ``base_url``, ``timeout`` in seconds,
``api_key`` (for a hosted Ollama behind a bearer token; default ``$OLLAMA_API_KEY``),
``client_kwargs`` for the underlying httpx client; any other option (``keep_alive``,
``num_ctx``...) is passed to ``OllamaEmbeddings``.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error

from ..exceptions import EmbeddingError, ImproperlyInstalled, RAGImproperlyConfigured
from ..redaction import redact
from .langchain import LangChainEmbedder, positive_number, quote_error

try:
    import httpx
    import ollama
    from langchain_ollama import OllamaEmbeddings
except ImportError as exc:  # pragma: no cover - exercised by simulating the missing package
    raise ImproperlyInstalled(
        backend="django_rag.embedders.ollama.Embedder", package="langchain-ollama", extra="ollama"
    ) from exc

#: Native output sizes of common Ollama embedding models.
KNOWN_DIMENSIONS = {
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}

DEFAULT_HOST = "http://127.0.0.1:11434"


def base_model(model: str) -> str:
    """``nomic-embed-text:latest`` and ``nomic-embed-text:v1.5`` are the same model family."""
    return model.split(":", 1)[0]


class Embedder(LangChainEmbedder):
    provider = "ollama"

    def __init__(
        self,
        *,
        alias: str,
        model: str = "nomic-embed-text",
        dimensions: int | None = None,
        base_url: str | None = None,
        # Generous: Ollama loads the model into memory on the first request after it
        # was unloaded, which takes tens of seconds on a CPU-only host.
        timeout: float | None = 120.0,
        api_key: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        native = KNOWN_DIMENSIONS.get(base_model(model)) if isinstance(model, str) else None
        super().__init__(alias=alias, dimensions=dimensions if dimensions is not None else native)
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name.")
        self.model_name = self.model = model
        self.native_dimensions = native
        # Read at construction, not import, so the environment of the running process counts.
        self.base_url = base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        self.timeout = positive_number(timeout, self.option_path("timeout"), allow_none=True)
        self.api_key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
        if client_kwargs is not None and not isinstance(client_kwargs, dict):
            raise RAGImproperlyConfigured(f"{self.option_path('client_kwargs')} must be a dict.")
        self.client_kwargs = dict(client_kwargs or {})
        self.extra = extra

    @property
    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    def build_client(self) -> OllamaEmbeddings:
        client_kwargs = {"timeout": self.timeout, **self.client_kwargs}
        if self.api_key:
            headers = dict(client_kwargs.get("headers") or {})
            headers.setdefault("Authorization", f"Bearer {self.api_key}")
            client_kwargs["headers"] = headers
        kwargs: dict[str, Any] = {
            "model": self.model,
            "base_url": self.base_url,
            "client_kwargs": client_kwargs,
            **self.extra,
        }
        # Ollama returns a model's native size unless asked for fewer (Matryoshka models
        # such as nomic-embed-text can shorten); ask only when the setting differs, so
        # servers that predate the "dimensions" parameter keep working.
        if self._dimensions is not None and self.native_dimensions not in (None, self._dimensions):
            kwargs["dimensions"] = self._dimensions
        try:
            return OllamaEmbeddings(**kwargs)
        except Exception as exc:  # pydantic's ValidationError for a bad option, mostly
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] were not accepted by OllamaEmbeddings: '
                f"{quote_error(exc, self.secrets)}"
            ) from None

    def check(self) -> list[CheckMessage]:
        messages = super().check()
        # Building the client sends no request (validate_model_on_init stays False) and
        # catches options OllamaEmbeddings rejects.
        try:
            self.build_client()
        except RAGImproperlyConfigured as exc:
            messages.append(Error(str(exc), obj=self.setting_path, id="django_rag.E007"))
        return messages

    def translate_error(self, exc: Exception) -> Exception | None:
        where = redact(self.base_url, self.secrets)
        prefix = f"Embedder {self.alias!r} ({self.provider} {self.model} at {where})"
        if isinstance(exc, httpx.TimeoutException):
            within = f"within {self.timeout:g} s " if self.timeout else ""
            return EmbeddingError(f"{prefix}: no reply {within}({self.option_path('timeout')}).")
        # ollama turns a refused connection into the builtin ConnectionError.
        if isinstance(exc, (ConnectionError, httpx.TransportError)):
            return EmbeddingError(f"{prefix}: could not connect or the connection dropped. Is `ollama serve` running?")
        if isinstance(exc, ollama.ResponseError):
            hint = {
                401: f" Check {self.option_path('api_key')} or OLLAMA_API_KEY.",
                404: f" Run `ollama pull {self.model}` on the server.",
            }.get(exc.status_code, "")
            detail = quote_error(exc.error, self.secrets).rstrip(".")
            return EmbeddingError(f"{prefix}: HTTP {exc.status_code}: {detail}.{hint}")
        if isinstance(exc, ValueError):  # JSONDecodeError, pydantic's ValidationError
            return EmbeddingError(f"{prefix}: the reply was not a valid embeddings response ({type(exc).__name__}).")
        return None
