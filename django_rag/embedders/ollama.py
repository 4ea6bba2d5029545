"""Embeddings from an Ollama server through langchain-ollama.

::

    DJANGO_RAG = {"EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.ollama.Embedder",
        "OPTIONS": {"model": "nomic-embed-text"},  # server from $OLLAMA_HOST or 127.0.0.1:11434
    }}}

Options: ``model``, ``dimensions`` (known for nomic-embed-text, mxbai-embed-large and
all-minilm; required for other models), ``base_url``, ``timeout`` in seconds,
``api_key`` (for a hosted Ollama behind a bearer token; default ``$OLLAMA_API_KEY``),
``client_kwargs`` for the underlying httpx client, ``tokenizer`` and ``max_input_tokens``
(see docs/ingestion.md: Ollama counts with the model's own tokenizer, which django-rag
cannot run); any other option (``keep_alive``, ``num_ctx``...) is passed to ``OllamaEmbeddings``.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import EmbeddingError, EmbeddingTimeout, EmbeddingUnavailable, requires_extra
from ..providers import DEFAULT_OLLAMA_HOST as DEFAULT_HOST  # noqa: F401 (kept importable from here)
from ..providers import OllamaConnection
from ..redaction import quote_error
from .langchain import LangChainEmbedder

with requires_extra("ollama", package="langchain-ollama", backend="django_rag.embedders.ollama.Embedder"):
    import httpx
    import ollama
    from langchain_ollama import OllamaEmbeddings

#: Native output sizes of common Ollama embedding models.
KNOWN_DIMENSIONS = {
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}


def base_model(model: str) -> str:
    """``nomic-embed-text:latest`` and ``nomic-embed-text:v1.5`` are the same model family."""
    return model.split(":", 1)[0]


class Embedder(OllamaConnection, LangChainEmbedder):
    provider = "ollama"
    client_class = OllamaEmbeddings
    rejected_options_check_id = "django_rag.E007"

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
        tokenizer: str | None = None,
        max_input_tokens: int | None = None,
        **extra: Any,
    ) -> None:
        native = KNOWN_DIMENSIONS.get(base_model(model)) if isinstance(model, str) else None
        super().__init__(
            alias=alias, dimensions=dimensions if dimensions is not None else native, tokenizer=tokenizer,
            max_input_tokens=max_input_tokens,
        )
        self.set_model(model)
        self.native_dimensions = native
        self.timeout = self.option_number(timeout, "timeout", allow_none=True)
        self.read_connection_options(api_key=api_key, base_url=base_url, client_kwargs=client_kwargs)
        self.extra = extra

    def client_arguments(self) -> dict[str, Any]:
        kwargs = super().client_arguments()
        # Ollama returns a model's native size unless asked for fewer (Matryoshka models
        # such as nomic-embed-text can shorten); ask only when the setting differs, so
        # servers that predate the "dimensions" parameter keep working.
        if self._dimensions is not None and self.native_dimensions not in (None, self._dimensions):
            kwargs["dimensions"] = self._dimensions
        return kwargs

    def translate_error(self, exc: Exception) -> Exception | None:
        prefix = f"Embedder {self.alias!r} ({self.provider} {self.model} at {self.where})"
        if isinstance(exc, httpx.TimeoutException):
            within = f"within {self.timeout:g} s " if self.timeout else ""
            return EmbeddingTimeout(f"{prefix}: no reply {within}({self.option_path('timeout')}).")
        # ollama turns a refused connection into the builtin ConnectionError.
        if isinstance(exc, (ConnectionError, httpx.TransportError)):
            return EmbeddingUnavailable(
                f"{prefix}: could not connect or the connection dropped.{self.unavailable_hint()}"
            )
        if isinstance(exc, ollama.ResponseError):
            hint = self.status_hint(exc.status_code)
            detail = quote_error(exc.error, self.secrets).rstrip(".")
            transient = exc.status_code >= 500 or exc.status_code == 429
            error = EmbeddingUnavailable if transient else EmbeddingError
            return error(f"{prefix}: HTTP {exc.status_code}: {detail}.{hint}")
        if isinstance(exc, ValueError):  # JSONDecodeError, pydantic's ValidationError
            return EmbeddingError(f"{prefix}: the reply was not a valid embeddings response ({type(exc).__name__}).")
        return None
