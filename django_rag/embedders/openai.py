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
``timeout`` in seconds, ``max_retries``, ``check_embedding_ctx_length``, ``tokenizer`` (the
tiktoken encoding; known for OpenAI's own models) and ``max_input_tokens`` (8,191 for
OpenAI's own models); any other option is passed to ``OpenAIEmbeddings``.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import EmbeddingError, EmbeddingTimeout, EmbeddingUnavailable, requires_extra
from ..providers import RATE_LIMITED_HINT, OpenAIConnection
from ..redaction import quote_error
from .langchain import LangChainEmbedder
from .tokenizers import tiktoken_encoding_for_model

with requires_extra("openai", package="langchain-openai", backend="django_rag.embedders.openai.Embedder"):
    import openai
    from langchain_openai import OpenAIEmbeddings

#: Native output sizes of OpenAI's embedding models.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

#: The most tokens OpenAI's embedding models read of one text (a longer one is refused).
KNOWN_INPUT_LIMITS = {
    "text-embedding-3-small": 8191,
    "text-embedding-3-large": 8191,
    "text-embedding-ada-002": 8191,
}


class Embedder(OpenAIConnection, LangChainEmbedder):
    provider = "openai"
    client_class = OpenAIEmbeddings
    missing_key_check_id = "django_rag.E006"
    rejected_options_check_id = "django_rag.E007"

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
        # The splitter keeps chunks under the 8,191-token limit itself (max_input_tokens).
        check_embedding_ctx_length: bool = False,
        tokenizer: str | None = None,
        max_input_tokens: int | None = None,
        **extra: Any,
    ) -> None:
        if dimensions is None:
            dimensions = KNOWN_DIMENSIONS.get(model)
        super().__init__(alias=alias, dimensions=dimensions, tokenizer=tokenizer, max_input_tokens=max_input_tokens)
        self.set_model(model)
        self.read_connection_options(api_key=api_key, base_url=base_url)
        self.timeout = self.option_number(timeout, "timeout", allow_none=True)
        self.max_retries = self.option_number(max_retries, "max_retries", integer=True, allow_zero=True)
        self.check_embedding_ctx_length = bool(check_embedding_ctx_length)
        self.extra = extra

    def default_max_input_tokens(self) -> int | None:
        return KNOWN_INPUT_LIMITS.get(self.model)

    def tiktoken_encoding_name(self) -> str | None:
        # tiktoken knows OpenAI's models by name; another server's model needs the option.
        return self.tokenizer_option or tiktoken_encoding_for_model(self.model)

    @property
    def sends_dimensions(self) -> bool:
        # Only text-embedding-3 models accept "dimensions"; ada-002 and most
        # OpenAI-compatible servers reject the parameter.
        return self.model.startswith("text-embedding-3")

    def model_arguments(self) -> dict[str, Any]:
        return {"check_embedding_ctx_length": self.check_embedding_ctx_length}

    def client_kwargs(self) -> dict[str, Any]:
        kwargs = super().client_kwargs()
        if self.sends_dimensions and self._dimensions is not None:
            kwargs["dimensions"] = self._dimensions
        return kwargs

    def translate_error(self, exc: Exception) -> Exception | None:
        prefix = f"Embedder {self.alias!r} ({self.provider} {self.model} at {self.where})"
        tries = self.max_retries + 1
        attempts = f"gave up after {tries} attempt{'s' if tries > 1 else ''}"
        # APITimeoutError subclasses APIConnectionError: test it first.
        if isinstance(exc, openai.APITimeoutError):
            within = f"within {self.timeout:g} s " if self.timeout else ""
            return EmbeddingTimeout(f"{prefix}: no reply {within}({self.option_path('timeout')}); {attempts}.")
        if isinstance(exc, openai.APIConnectionError):
            return EmbeddingUnavailable(f"{prefix}: could not connect or the connection dropped; {attempts}.")
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            detail = body.get("message") if isinstance(body, dict) else None
            hint = RATE_LIMITED_HINT if exc.status_code == 429 else self.status_hint(exc.status_code)
            said = f": {quote_error(detail, self.secrets).rstrip('.')}" if detail else ""
            # 5xx and 429 may pass; other refusals would only be refused again.
            transient = exc.status_code >= 500 or exc.status_code == 429
            error = EmbeddingUnavailable if transient else EmbeddingError
            return error(f"{prefix}: HTTP {exc.status_code}{said}.{hint}")
        if isinstance(exc, ValueError):  # JSONDecodeError, pydantic's ValidationError
            return EmbeddingError(f"{prefix}: the reply was not a valid embeddings response ({type(exc).__name__}).")
        return None
