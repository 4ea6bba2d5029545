"""Chat models served by Ollama, through langchain-ollama.

::

    DJANGO_RAG = {"LLMS": {"default": {
        "BACKEND": "django_rag.llms.ollama.LLM",
        "OPTIONS": {"model": "llama3.2"},  # server from $OLLAMA_HOST or 127.0.0.1:11434
    }}}

Options: ``model`` (default ``llama3.2``), ``base_url`` (default ``$OLLAMA_HOST`` or
``http://127.0.0.1:11434``), ``timeout`` in seconds (120), ``max_retries`` (0; retried
here with a short backoff, only before any text was streamed), ``temperature`` (0),
``max_tokens`` (sent as Ollama's ``num_predict``), ``api_key`` (for a hosted Ollama
behind a bearer token; default ``$OLLAMA_API_KEY``), ``client_kwargs`` for the
underlying httpx client; any other option (``keep_alive``, ``num_ctx``...) is passed to
``ChatOllama``.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import CheckMessage, Error

from ..exceptions import ImproperlyInstalled, RAGImproperlyConfigured
from ..redaction import redact
from .base import option_number
from .langchain import LangChainLLM, quote_error

try:
    from langchain_ollama import ChatOllama
except ImportError as exc:  # pragma: no cover - exercised by simulating the missing package
    raise ImproperlyInstalled(backend="django_rag.llms.ollama.LLM", package="langchain-ollama", extra="ollama") from exc

DEFAULT_HOST = "http://127.0.0.1:11434"


class LLM(LangChainLLM):
    provider = "ollama"

    def __init__(
        self,
        *,
        alias: str,
        model: str = "llama3.2",
        base_url: str | None = None,
        # Generous: Ollama loads the model into memory on the first request after it
        # was unloaded, and a CPU-only host writes a few tokens a second.
        timeout: float | None = 120.0,
        # A local server that refuses connections is usually not running at all, and a
        # 500 is usually a model that cannot load: retrying rarely helps.
        max_retries: int = 0,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        api_key: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(alias=alias, timeout=timeout, max_retries=max_retries)
        if not isinstance(model, str) or not model:
            raise RAGImproperlyConfigured(f"{self.option_path('model')} must be a model name.")
        self.model_name = self.model = model
        # Read at construction, not import, so the environment of the running process counts.
        self.base_url = base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        self.temperature = option_number(temperature, self.option_path("temperature"), allow_none=True, allow_zero=True)
        self.max_tokens = option_number(max_tokens, self.option_path("max_tokens"), integer=True, allow_none=True)
        self.api_key = api_key if api_key is not None else os.environ.get("OLLAMA_API_KEY")
        if client_kwargs is not None and not isinstance(client_kwargs, dict):
            raise RAGImproperlyConfigured(f"{self.option_path('client_kwargs')} must be a dict.")
        self.client_kwargs = dict(client_kwargs or {})
        self.extra = extra

    @property
    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    def build_client(self) -> ChatOllama:
        client_kwargs = {"timeout": self.timeout, **self.client_kwargs}
        if self.api_key:
            headers = dict(client_kwargs.get("headers") or {})
            headers.setdefault("Authorization", f"Bearer {self.api_key}")
            client_kwargs["headers"] = headers
        kwargs: dict[str, Any] = {
            "model": self.model,
            "base_url": self.base_url,
            "client_kwargs": client_kwargs,
            "temperature": self.temperature,
            "num_predict": self.max_tokens,
            **self.extra,
        }
        try:
            return ChatOllama(**kwargs)
        except Exception as exc:  # pydantic's ValidationError for a bad option, mostly
            raise RAGImproperlyConfigured(
                f'{self.setting_path}["OPTIONS"] were not accepted by ChatOllama: {quote_error(exc, self.secrets)}'
            ) from None

    def build_async_client(self) -> ChatOllama:
        # ChatOllama makes its async httpx client when built; a new one per event loop.
        return self.build_client()

    def check(self) -> list[CheckMessage]:
        messages = super().check()
        if self._client is None:
            # Building the client sends no request (validate_model_on_init stays False)
            # and catches options ChatOllama rejects.
            try:
                self.build_client()
            except RAGImproperlyConfigured as exc:
                messages.append(Error(str(exc), obj=self.setting_path, id="django_rag.E015"))
        return messages

    @property
    def where(self) -> str:
        return redact(self.base_url, self.secrets)

    def unavailable_hint(self) -> str:
        return " Is `ollama serve` running?"

    def status_hint(self, status: int) -> str:
        return {
            401: f" Check {self.option_path('api_key')} or OLLAMA_API_KEY.",
            404: f" Run `ollama pull {self.model}` on the server.",
        }.get(status, "")
